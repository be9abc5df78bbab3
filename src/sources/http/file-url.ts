import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCapped } from './read-body.js';

const TYPES: Record<string, string> = {
  '.xml': 'application/xml',
  '.rss': 'application/rss+xml',
  '.atom': 'application/atom+xml',
  '.rdf': 'application/rdf+xml',
  '.json': 'application/json',
  '.html': 'text/html',
  '.htm': 'text/html',
  '.txt': 'text/plain',
};

export interface FileBody {
  body: Buffer;
  contentType?: string;
  lastModified: string;
  notModified: boolean;
}

/**
 * Reads a file: URL (only reachable when http.allowFileUrls is true) with the same size cap as HTTP. The file's
 * mtime plays the part of Last-Modified, so an unchanged local fixture costs no parsing either.
 */
export async function readFileUrl(url: string, maxBytes: number, ifModifiedSince?: string, signal?: AbortSignal): Promise<FileBody> {
  const file = fileURLToPath(url);
  const info = await stat(file);
  const lastModified = info.mtime.toUTCString();
  const contentType = TYPES[path.extname(file).toLowerCase()];
  if (ifModifiedSince && ifModifiedSince === lastModified) {
    return { body: Buffer.alloc(0), contentType, lastModified, notModified: true };
  }
  const body = await readCapped(createReadStream(file), maxBytes, signal);
  return { body, contentType, lastModified, notModified: false };
}
