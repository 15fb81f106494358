// The parts of RFC 8941 (Structured Field Values) that HTTP Message Signatures needs:
// Dictionaries of Items and Inner Lists, with parameters, and their canonical serialization.

export class Token {
  constructor(readonly value: string) {}
}

/** A non-integer number; kept apart from integers so that `1.0` re-serializes as `1.0`. */
export class Decimal {
  constructor(readonly value: number) {}
}

export type BareItem = number | Decimal | string | Token | Uint8Array | boolean;
export type Params = Map<string, BareItem>;

export interface Item {
  value: BareItem;
  params: Params;
}

export interface InnerList {
  items: Item[];
  params: Params;
}

export type Member = Item | InnerList;

export function isInnerList(member: Member): member is InnerList {
  return "items" in member;
}

export class StructuredFieldError extends Error {}

export function parseDictionary(text: string): Map<string, Member> {
  const parser = new Parser(text);
  const dictionary = new Map<string, Member>();
  parser.members(() => {
    const key = parser.key();
    if (parser.peek() === "=") {
      parser.pos++;
      dictionary.set(key, parser.itemOrInnerList());
    } else {
      dictionary.set(key, { value: true, params: parser.params() });
    }
  });
  return dictionary;
}

export function serializeBareItem(value: BareItem): string {
  if (typeof value === "boolean") return value ? "?1" : "?0";
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new StructuredFieldError(`not an integer: ${value}`);
    return String(value);
  }
  if (value instanceof Decimal) {
    const fixed = (Math.round(value.value * 1000) / 1000).toFixed(3);
    return fixed.replace(/0{1,2}$/, "");
  }
  if (value instanceof Token) return value.value;
  if (value instanceof Uint8Array) return `:${Buffer.from(value).toString("base64")}:`;
  if (!/^[\x20-\x7e]*$/.test(value)) throw new StructuredFieldError("string has non-ASCII characters");
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export function serializeParams(params: Params): string {
  let out = "";
  for (const [key, value] of params)
    out += value === true ? `;${key}` : `;${key}=${serializeBareItem(value)}`;
  return out;
}

export function serializeItem(item: Item): string {
  return serializeBareItem(item.value) + serializeParams(item.params);
}

export function serializeInnerList(list: InnerList): string {
  return `(${list.items.map(serializeItem).join(" ")})${serializeParams(list.params)}`;
}

const KEY_START = /[a-z*]/;
const KEY_CHAR = /[a-z0-9_\-.*]/;
const TOKEN_START = /[A-Za-z*]/;
const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z:/]/;
const BASE64_CHAR = /[A-Za-z0-9+/=]/;

class Parser {
  pos = 0;
  readonly text: string;

  constructor(text: string) {
    this.text = text.replace(/^[ \t]+|[ \t]+$/g, "");
  }

  peek(): string {
    return this.text[this.pos] ?? "";
  }

  fail(message: string): never {
    throw new StructuredFieldError(`${message} at position ${this.pos}`);
  }

  /** Comma-separated members, as in Dictionaries. */
  members(parseMember: () => void): void {
    while (this.pos < this.text.length) {
      parseMember();
      this.skip(/[ \t]/);
      if (this.pos >= this.text.length) return;
      if (this.peek() !== ",") this.fail("expected a comma");
      this.pos++;
      this.skip(/[ \t]/);
      if (this.pos >= this.text.length) this.fail("trailing comma");
    }
  }

  skip(pattern: RegExp): void {
    while (pattern.test(this.peek())) this.pos++;
  }

  itemOrInnerList(): Member {
    return this.peek() === "(" ? this.innerList() : this.item();
  }

  innerList(): InnerList {
    this.pos++;
    const items: Item[] = [];
    for (;;) {
      this.skip(/ /);
      if (this.peek() === ")") {
        this.pos++;
        return { items, params: this.params() };
      }
      items.push(this.item());
      if (this.peek() !== " " && this.peek() !== ")") this.fail("expected a space or ')' in inner list");
    }
  }

  item(): Item {
    return { value: this.bareItem(), params: this.params() };
  }

  params(): Params {
    const params: Params = new Map();
    while (this.peek() === ";") {
      this.pos++;
      this.skip(/ /);
      const key = this.key();
      let value: BareItem = true;
      if (this.peek() === "=") {
        this.pos++;
        value = this.bareItem();
      }
      params.set(key, value);
    }
    return params;
  }

  key(): string {
    if (!KEY_START.test(this.peek())) this.fail("expected a key");
    const start = this.pos;
    this.skip(KEY_CHAR);
    return this.text.slice(start, this.pos);
  }

  bareItem(): BareItem {
    const c = this.peek();
    if (c === "-" || /[0-9]/.test(c)) return this.number();
    if (c === '"') return this.string();
    if (c === ":") return this.bytes();
    if (c === "?") return this.boolean();
    if (TOKEN_START.test(c)) return this.token();
    return this.fail("expected an item");
  }

  number(): number | Decimal {
    const match = /^-?(\d{1,15})(\.\d{1,3})?/.exec(this.text.slice(this.pos));
    if (!match || (match[2] && match[1]!.length > 12)) this.fail("malformed number");
    if (/^[0-9.]/.test(this.text[this.pos + match[0].length] ?? "")) this.fail("number too long");
    this.pos += match[0].length;
    return match[2] ? new Decimal(Number(match[0])) : Number(match[0]);
  }

  string(): string {
    this.pos++;
    let out = "";
    for (;;) {
      const c = this.peek();
      this.pos++;
      if (c === "") this.fail("unterminated string");
      if (c === '"') return out;
      if (c === "\\") {
        const escaped = this.peek();
        if (escaped !== '"' && escaped !== "\\") this.fail("bad escape in string");
        this.pos++;
        out += escaped;
      } else if (c < " " || c > "~") {
        this.fail("invalid character in string");
      } else {
        out += c;
      }
    }
  }

  token(): Token {
    const start = this.pos;
    this.pos++;
    this.skip(TOKEN_CHAR);
    return new Token(this.text.slice(start, this.pos));
  }

  bytes(): Uint8Array {
    this.pos++;
    const start = this.pos;
    this.skip(BASE64_CHAR);
    if (this.peek() !== ":") this.fail("malformed byte sequence");
    const encoded = this.text.slice(start, this.pos);
    this.pos++;
    return new Uint8Array(Buffer.from(encoded, "base64"));
  }

  boolean(): boolean {
    const value = this.text[this.pos + 1];
    if (value !== "0" && value !== "1") this.fail("malformed boolean");
    this.pos += 2;
    return value === "1";
  }
}
