import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { formatIssue } from '../../config/errors.js';
import { resolveConfigDir } from '../../config/load.js';
import { readConfigFile } from '../../config/read-file.js';
import { settingsFileSchema, type Settings } from '../../config/schema.js';
import { ChokepointError } from '../../errors.js';
import type { Item } from '../../items/item.js';
import { readFileUrl } from '../../sources/http/file-url.js';
import { createHttpClient } from '../../sources/http.js';
import { parseDocument, detectKind, type DocumentKind } from '../../sources/parse-document.js';
import { PRESETS, type PresetName } from '../../sources/presets.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';

const KINDS = ['rss', 'json', 'html', 'screening'] as const;

export const parseCommand: Command = {
  name: 'parse',
  summary: 'Fetch or read one feed/API answer/page and print its normalised items as JSON Lines',
  help: `Usage: chokepoint parse <file-or-url> [--kind rss|json|html|screening] [--preset NAME] [options]

Reads a local file or fetches a URL (with the HTTP client and the settings of --config, if given) and prints
one JSON object per item: id, title, summary, url, publishedAt, author and the other Item fields.
The kind is detected when not given: XML is a feed, a Federal Register or GDELT answer picks its preset, a
Consolidated Screening List picks "screening" (every entry is printed as "added"). Nothing is written to Redis.

Options:
  --kind KIND          rss, json, html or screening
  --preset NAME        json preset: ${Object.keys(PRESETS).join(', ')}
  --item SEL           html: CSS selector of one entry; json: dot path of the records array
  --title SEL          html: selector of the title; json: field path of the title
  --link SEL           html: selector of the link; json: field path of the URL
  --date SEL           html/json: the date
  --summary SEL        html/json: the summary
  --id PATH            json: field path of the id
  --lists NAME         screening: only entries whose list contains NAME (repeatable)
  --allow-private      allow loopback and private addresses for this fetch
  --config DIR         read http settings (timeouts, size cap, User-Agent contact) from DIR/settings.yaml

Exit codes: 0 parsed (even with no items), 1 fetch or parse error (one line on stderr), 2 usage error.`,
  allowPositionals: true,
  options: {
    kind: { type: 'string' },
    preset: { type: 'string' },
    item: { type: 'string' },
    title: { type: 'string' },
    link: { type: 'string' },
    date: { type: 'string' },
    summary: { type: 'string' },
    id: { type: 'string' },
    lists: { type: 'string', multiple: true },
    'allow-private': { type: 'boolean' },
  },
  async run(args, io) {
    const v = args.values as Record<string, string | boolean | string[] | undefined>;
    const target = args.positionals[0];
    const usage = (message: string) => {
      io.stderr.write(`chokepoint parse: ${message}\nRun "chokepoint parse --help" for usage.\n`);
      return EXIT.USAGE;
    };
    if (!target || args.positionals.length > 1) return usage('expects exactly one file or URL');
    const kind = v.kind as DocumentKind | undefined;
    if (kind && !KINDS.includes(kind)) return usage(`unknown kind "${kind}" (one of ${KINDS.join(', ')})`);
    const preset = v.preset as PresetName | undefined;
    if (preset && !(preset in PRESETS)) return usage(`unknown preset "${preset}" (one of ${Object.keys(PRESETS).join(', ')})`);

    let settings: Settings;
    // As every command: --config, else $CHOKEPOINT_CONFIG, else ./config; a directory named but missing is an error,
    // the default one missing is not (parse works without any config).
    const named = (v.config as string | undefined) ?? io.env.CHOKEPOINT_CONFIG;
    const dir = resolveConfigDir(named, io.env);
    if (named !== undefined && !existsSync(dir)) {
      io.stderr.write(`chokepoint parse: config directory ${dir} does not exist\n`);
      return EXIT.FAILURE;
    }
    if (existsSync(dir)) {
      const file = path.join(dir, 'settings.yaml');
      const read = readConfigFile(file, settingsFileSchema, io.env, { optional: true });
      if (!read.data) {
        for (const issue of read.issues) io.stderr.write(`${formatIssue(issue)}\n`);
        return EXIT.FAILURE;
      }
      settings = read.data;
    } else {
      settings = settingsFileSchema.parse({});
    }

    // "ftp://host/x" would otherwise be read as a file path and reported as a missing file.
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target) && !/^(https?|file):\/\//i.test(target)) return usage(`only http(s) URLs and files can be parsed, not "${target.split(':')[0]}:" URLs`);
    const sourceId = 'parse';
    const now = new Date();
    try {
      const isUrl = /^https?:\/\//i.test(target);
      let body: Buffer;
      let contentType: string | undefined;
      let url: string;
      if (isUrl) {
        const http = createHttpClient({ ...settings.http, allowPrivateAddresses: settings.http.allowPrivateAddresses || v['allow-private'] === true });
        try {
          const res = await http.get({ url: target, sourceId });
          if (res.notModified) throw new Error('unexpected 304 Not Modified');
          ({ body, contentType, url } = res);
        } finally {
          http.close();
        }
      } else {
        // A file named on the command line is the user's own input: http.allowFileUrls governs config sources only.
        url = (target.startsWith('file:') ? new URL(target) : pathToFileURL(path.resolve(target))).href;
        ({ body, contentType } = await readFileUrl(url, settings.http.maxBytes));
      }
      const detected = kind ?? (preset ? 'json' : v.item ? 'html' : detectKind(body));
      const result = parseDocument(detected, body, {
        sourceId,
        url,
        contentType,
        now,
        preset: preset ?? undefined,
        mapping: v.item && v.title ? { items: String(v.item), title: String(v.title), url: v.link as string, date: v.date as string, summary: v.summary as string, id: v.id as string } : undefined,
        selectors: v.item && v.title ? { item: String(v.item), title: String(v.title), link: v.link as string, date: v.date as string, summary: v.summary as string } : undefined,
        lists: v.lists as string[] | undefined,
      });
      // `chokepoint parse feed.xml | head` closes the pipe early: stop writing instead of crashing on EPIPE.
      let closed = false;
      io.stdout.on('error', () => (closed = true));
      for (const item of result.items) {
        if (closed) break;
        io.stdout.write(`${JSON.stringify(ordered(item))}\n`);
      }
      return EXIT.OK;
    } catch (err) {
      const message = err instanceof ChokepointError ? err.message.replace(/^source "parse": /, '') : (err as Error).message;
      io.stderr.write(`chokepoint parse: ${target.startsWith('http') ? '' : `${target}: `}${message.replace(/\s+/g, ' ')}\n`);
      return EXIT.FAILURE;
    }
  },
};

/** The fields people look at first, then the rest as the item has them. */
function ordered(item: Item): Record<string, unknown> {
  const { id, title, summary, url, publishedAt, author, ...rest } = item;
  return { id, title, summary, url, publishedAt, author, ...rest };
}
