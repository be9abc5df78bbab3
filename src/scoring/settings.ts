import { z } from 'zod';

/**
 * settings.yaml `scoring:` block. Owned by the scoring module; the config loader embeds it.
 * Thresholds are the minimum score (0-100) for each level.
 */
export const scoringSettingsSchema = z
  .strictObject({
    thresholds: z
      .strictObject({
        info: z.number().min(0).max(100).default(15),
        low: z.number().min(0).max(100).default(30),
        medium: z.number().min(0).max(100).default(45),
        high: z.number().min(0).max(100).default(65),
        critical: z.number().min(0).max(100).default(85),
      })
      .prefault({})
      .describe('Minimum score for each level; must rise from info to critical.'),
  })
  .prefault({});

export type ScoringSettings = z.infer<typeof scoringSettingsSchema>;
