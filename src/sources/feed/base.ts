import { resolveUrl } from '../../items/urls.js';
import { attr } from './xml.js';

/** The base URL in effect inside an element: its xml:base resolved against the base outside it. */
export function baseOf(node: unknown, outer: string | undefined): string | undefined {
  const declared = attr(node, 'xml:base');
  if (!declared || !declared.trim()) return outer;
  return resolveUrl(declared, outer) ?? outer;
}

/** An xml:lang or language value, when it looks like a language tag ("en", "zh-CN"). */
export function languageTag(value: string | undefined): string | undefined {
  const tag = value?.trim();
  return tag && /^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$/.test(tag) ? tag.replace('_', '-') : undefined;
}
