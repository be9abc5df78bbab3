/** A parsed element: an object of children and "@_" attributes, or the raw text of a stop node without attributes. */
export type XmlNode = string | XmlObject;
export interface XmlObject {
  [key: string]: XmlNode | XmlNode[] | undefined;
}
