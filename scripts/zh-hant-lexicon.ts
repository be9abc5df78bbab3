/**
 * Writes config/lexicon-zh-hant.yaml: the Traditional Chinese forms of the built-in lexicon's Chinese terms, as
 * Taiwan's and Hong Kong's news writes them (晶片 for 芯片, 半導體, 實體清單), made with OpenCC's tables (opencc-js, a
 * development dependency: the worker reads the file, not the tables). Run after changing a Chinese term:
 *   npx tsx scripts/zh-hant-lexicon.ts
 * test/scoring/zh-hant-lexicon.test.ts fails while the file is out of date.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_CONFIG_DIR } from '../src/paths.js';
import { ZH_HANT_FILE, zhHantLexiconYaml } from './zh-hant-lexicon-source.js';

const target = path.join(PACKAGE_CONFIG_DIR, ZH_HANT_FILE);
writeFileSync(target, zhHantLexiconYaml());
console.log(`wrote ${target}`);
