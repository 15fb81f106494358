/** Reading HTML pages in tests with a real parser (parse5): elements by tag, attribute or class, and text. */
import { parse } from "parse5";

export interface Element {
  nodeName: string;
  tagName?: string;
  attrs?: { name: string; value: string }[];
  childNodes?: Element[];
  value?: string;
  content?: Element;
}

export function parseHtml(html: string): Element {
  return parse(html) as unknown as Element;
}

export function attr(el: Element, name: string): string | null {
  return el.attrs?.find((a) => a.name === name)?.value ?? null;
}

export function hasClass(el: Element, name: string): boolean {
  return (attr(el, "class") ?? "").split(/\s+/).includes(name);
}

/** Every element under `root` (depth first, document order) that matches. */
export function findAll(root: Element, match: (el: Element) => boolean): Element[] {
  const out: Element[] = [];
  const walk = (node: Element) => {
    for (const child of node.childNodes ?? []) {
      if (child.tagName && match(child)) out.push(child);
      walk(child);
    }
    if (node.content) walk(node.content);
  };
  walk(root);
  return out;
}

export function byTag(root: Element, tag: string): Element[] {
  return findAll(root, (el) => el.tagName === tag);
}

export function byId(root: Element, id: string): Element | null {
  return findAll(root, (el) => attr(el, "id") === id)[0] ?? null;
}

export function textOf(node: Element): string {
  if (node.nodeName === "#text") return node.value ?? "";
  return (node.childNodes ?? []).map(textOf).join("");
}

/** The content of `<meta property=...>` or `<meta name=...>`. */
export function meta(root: Element, key: string): string | null {
  const el = byTag(root, "meta").find((m) => attr(m, "property") === key || attr(m, "name") === key);
  return el ? attr(el, "content") : null;
}

/** A form's action, method and fields (inputs with a name). */
export function formOf(form: Element): { action: string; method: string; fields: Record<string, string> } {
  const fields: Record<string, string> = {};
  for (const input of byTag(form, "input")) {
    const name = attr(input, "name");
    if (name) fields[name] = attr(input, "value") ?? "";
  }
  return { action: attr(form, "action") ?? "", method: attr(form, "method") ?? "get", fields };
}
