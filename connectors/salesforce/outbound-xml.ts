/**
 * Reads an Outbound Message's SOAP envelope for what the connector needs of it (the
 * OrganizationId, the ActionId and, per Notification, its Id, the sObject's type and the
 * record's Id) in one pass, under strict limits: size, elements, attributes (in all and per
 * element) and depth. It refuses the moment a limit is passed or the text is not well-formed
 * XML of the kind Salesforce sends, so any body costs at most a few milliseconds (a general
 * parser spent about a second on 100,000 attributes, and 10 ms per 50 KB of a real message).
 * Field values are skipped, never decoded: the connector reads the records back instead.
 *
 * The XML it takes: an optional XML declaration, then one element tree with attributes,
 * character and entity references (the five predefined ones), CDATA sections and comments.
 * It refuses bytes that are not UTF-8, a DOCTYPE (no entity expansion), processing
 * instructions, undefined entities, mismatched or unclosed tags, duplicate attributes, names
 * outside ASCII, repeated OrganizationId/ActionId/Id/sObject elements, and anything after the
 * root. (Characters XML forbids inside text, such as control characters, are not looked for:
 * text is never decoded.)
 * Namespace prefixes are dropped (`soapenv:Body` is `Body`), as Salesforce's prefixes vary.
 * Every refusal is a `MalformedPayloadError` with fixed text: nothing the sender wrote (a tag
 * name, a value) reaches the message, so it is safe to log and to echo in a SOAP fault.
 * https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_om_outboundmessaging_wsdl.htm
 */
import { isUtf8 } from 'node:buffer';
import { MalformedPayloadError } from '../../src/connector/errors.js';

/** Bounds on what one message may hold. */
export interface OutboundLimits {
  /** Body bytes. */
  maxBytes: number;
  /** Elements, comments and CDATA sections together. */
  maxNodes: number;
  /** Attributes (namespace declarations included) in the whole document. */
  maxAttributes: number;
  /** Attributes on one element. */
  maxAttributesPerElement: number;
  /** Nesting depth (a Salesforce message is 6 deep: Envelope, Body, notifications, Notification, sObject, field). */
  maxDepth: number;
  /** Notifications in one message (Salesforce sends at most 100). */
  maxNotifications: number;
}

/**
 * The limits: a message of 100 notifications with about 40 fields of ordinary length each fits
 * (the emulator sends every field, about 20), far more than a listener that reads its records
 * back needs (`Id` alone would do). Worst case measured warm on a loaded 2-core machine: a few
 * milliseconds of CPU for a body at the limits.
 */
export const OUTBOUND_LIMITS: OutboundLimits = {
  maxBytes: 256 * 1024,
  maxNodes: 5_000,
  maxAttributes: 5_000,
  maxAttributesPerElement: 16,
  maxDepth: 8,
  maxNotifications: 100,
};

/** One notification: its id (for dedupe), the object it is about and the record's id. */
export interface OutboundNotification {
  id: string;
  object: string;
  recordId: string;
}

export interface OutboundMessage {
  organizationId: string;
  actionId: string;
  notifications: OutboundNotification[];
}

/** Why a message was refused; fixed text only. */
function fail(reason: string): never {
  throw new MalformedPayloadError(`Outbound Message refused: ${reason}`);
}

const ID = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/;
/** Longest element or attribute name taken (Salesforce's are API names, at most about 50 characters). */
const MAX_NAME = 128;
const OBJECT_NAME = /^[A-Za-z][A-Za-z0-9_]{0,79}$/;

const GT = 0x3e;
const SLASH = 0x2f;
const BANG = 0x21;
const QUESTION = 0x3f;
const EQUALS = 0x3d;
const COLON = 0x3a;
const HASH = 0x23;
const SEMICOLON = 0x3b;

function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}
function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
function isHexDigit(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}
function isNameStart(c: number): boolean {
  return isLetter(c) || c === 0x5f;
}
function isNameChar(c: number): boolean {
  return isNameStart(c) || isDigit(c) || c === 0x2d || c === 0x2e;
}
function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function localName(qualified: string): string {
  const colon = qualified.indexOf(':');
  return colon < 0 ? qualified : qualified.slice(colon + 1);
}

/** What the text of an element at this place is to the reader. */
type Capture = 'organizationId' | 'actionId' | 'notificationId' | 'recordId';

interface Draft {
  id?: string;
  object?: string;
  recordId?: string;
  sObjects: number;
}

/**
 * One pass over the text, one character per byte (every byte of a multi-byte UTF-8 character
 * is 0x80 or above, so it never reads as markup; names and ids are ASCII). Decoding the body
 * as UTF-8 would cost more than the scan.
 */
class Scanner {
  private pos: number;
  private readonly stack: string[] = [];
  private nodes = 0;
  private attributes = 0;
  private rootClosed = false;
  /** The next `&` at or after the last place references were looked for (Infinity: none). */
  private nextAmp = -1;
  private capture: Capture | undefined;
  private captured = '';
  private notificationsSeen = 0;
  private organizationId: string | undefined;
  private actionId: string | undefined;
  private draft: Draft | undefined;
  private readonly notifications: OutboundNotification[] = [];

  constructor(
    private readonly xml: string,
    private readonly limits: OutboundLimits,
  ) {
    this.pos = xml.startsWith('\xEF\xBB\xBF') ? 3 : 0;
  }

  read(): OutboundMessage {
    const { xml } = this;
    if (xml.startsWith('<?xml', this.pos)) {
      const end = xml.indexOf('?>', this.pos);
      if (end < 0 || end > this.pos + 200 || !isSpace(xml.charCodeAt(this.pos + 5))) fail('a malformed XML declaration');
      this.pos = end + 2;
    }
    while (this.pos < xml.length) {
      const lt = xml.indexOf('<', this.pos);
      const textEnd = lt < 0 ? xml.length : lt;
      if (textEnd > this.pos) this.text(this.pos, textEnd);
      if (lt < 0) break;
      this.pos = lt;
      const next = xml.charCodeAt(lt + 1);
      if (next === BANG) this.declaration();
      else if (next === QUESTION) fail('a processing instruction is not allowed');
      else if (next === SLASH) this.endTag();
      else this.startTag();
    }
    if (this.stack.length > 0 || !this.rootClosed) fail('not well-formed XML (unclosed elements)');
    if (this.notificationsSeen === 0) fail('no soapenv:Envelope/soapenv:Body/notifications element');
    if (this.organizationId === undefined) fail('no OrganizationId');
    if (this.notifications.length === 0) fail('no Notification');
    return { organizationId: this.organizationId, actionId: this.actionId ?? '', notifications: this.notifications };
  }

  private countNode(): void {
    this.nodes += 1;
    if (this.nodes > this.limits.maxNodes) fail(`more than ${this.limits.maxNodes} elements`);
  }

  /** End of the (at most once prefixed) name at `at`, or -1; a name over `MAX_NAME` characters is refused. */
  private nameEnd(at: number): number {
    const { xml } = this;
    let i = at;
    if (!isNameStart(xml.charCodeAt(i))) return -1;
    i += 1;
    while (isNameChar(xml.charCodeAt(i)) && i - at <= MAX_NAME) i += 1;
    if (xml.charCodeAt(i) === COLON) {
      i += 1;
      if (!isNameStart(xml.charCodeAt(i))) return -1;
      i += 1;
      while (isNameChar(xml.charCodeAt(i)) && i - at <= MAX_NAME) i += 1;
    }
    if (i - at > MAX_NAME) fail(`a name longer than ${MAX_NAME} characters`);
    return i;
  }

  private skipSpace(at: number): number {
    let i = at;
    while (isSpace(this.xml.charCodeAt(i))) i += 1;
    return i;
  }

  /** Text between tags: whitespace outside the root; elsewhere only its references are checked (or an id kept). */
  private text(from: number, to: number): void {
    if (this.stack.length === 0) {
      for (let i = from; i < to; i++) if (!isSpace(this.xml.charCodeAt(i))) fail('text outside the root element');
      return;
    }
    this.checkReferences(from, to);
    if (this.capture) this.captured += this.xml.slice(from, to);
  }

  /** Every `&` in `[from, to)` starts one of the references XML defines without a DTD. */
  private checkReferences(from: number, to: number): void {
    const { xml } = this;
    if (this.nextAmp < from) this.nextAmp = xml.indexOf('&', from);
    if (this.nextAmp < 0) this.nextAmp = Number.POSITIVE_INFINITY;
    while (this.nextAmp < to) {
      const end = this.referenceEnd(this.nextAmp);
      if (end < 0 || end > to) fail('an undefined or malformed entity reference');
      this.nextAmp = xml.indexOf('&', end);
      if (this.nextAmp < 0) this.nextAmp = Number.POSITIVE_INFINITY;
    }
  }

  /** The end of the reference at `at` (an `&`), or -1. */
  private referenceEnd(at: number): number {
    const { xml } = this;
    let i = at + 1;
    if (xml.charCodeAt(i) !== HASH) return this.entityEnd(i);
    i += 1;
    const hex = xml.charCodeAt(i) === 0x78;
    if (hex) i += 1;
    const start = i;
    let code = 0;
    for (let c = xml.charCodeAt(i); i - start < 7 && (hex ? isHexDigit(c) : isDigit(c)); c = xml.charCodeAt(++i)) {
      code = code * (hex ? 16 : 10) + (isDigit(c) ? c - 0x30 : (c | 0x20) - 0x57);
    }
    if (i === start || code > 0x10ffff || (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d)) return -1;
    return xml.charCodeAt(i) === SEMICOLON ? i + 1 : -1;
  }

  /** The end of `amp;`, `lt;`, `gt;`, `quot;` or `apos;` at `at`, or -1 (compared code by code: this runs for every `&`). */
  private entityEnd(at: number): number {
    const { xml } = this;
    const c1 = xml.charCodeAt(at + 1);
    const c2 = xml.charCodeAt(at + 2);
    const c3 = xml.charCodeAt(at + 3);
    switch (xml.charCodeAt(at)) {
      case 0x61: // amp; apos;
        if (c1 === 0x6d && c2 === 0x70 && c3 === SEMICOLON) return at + 4;
        return c1 === 0x70 && c2 === 0x6f && c3 === 0x73 && xml.charCodeAt(at + 4) === SEMICOLON ? at + 5 : -1;
      case 0x6c: // lt;
      case 0x67: // gt;
        return c1 === 0x74 && c2 === SEMICOLON ? at + 3 : -1;
      case 0x71: // quot;
        return c1 === 0x75 && c2 === 0x6f && c3 === 0x74 && xml.charCodeAt(at + 4) === SEMICOLON ? at + 5 : -1;
      default:
        return -1;
    }
  }

  /** `<!--...-->` and `<![CDATA[...]]>` are skipped; a DOCTYPE or any other declaration is refused. */
  private declaration(): void {
    const { xml } = this;
    if (xml.startsWith('<!--', this.pos)) {
      const end = xml.indexOf('-->', this.pos + 4);
      if (end < 0) fail('an unclosed comment');
      this.countNode();
      this.pos = end + 3;
      return;
    }
    if (xml.startsWith('<![CDATA[', this.pos)) {
      if (this.stack.length === 0) fail('CDATA outside the root element');
      if (this.capture) fail('CDATA in an id');
      const end = xml.indexOf(']]>', this.pos + 9);
      if (end < 0) fail('an unclosed CDATA section');
      this.countNode();
      this.pos = end + 3;
      return;
    }
    fail('a DOCTYPE or other declaration is not allowed');
  }

  private endTag(): void {
    const { xml } = this;
    const end = this.nameEnd(this.pos + 2);
    if (end < 0) fail('a malformed end tag');
    const close = this.skipSpace(end);
    if (xml.charCodeAt(close) !== GT) fail('a malformed end tag');
    const open = this.stack.pop();
    if (open === undefined || open.length !== end - this.pos - 2 || !xml.startsWith(open, this.pos + 2)) fail('mismatched tags');
    this.pos = close + 1;
    this.closed(open);
  }

  private startTag(): void {
    const { xml, limits } = this;
    if (this.rootClosed) fail('more than one root element');
    if (this.capture) fail('an element inside an id');
    const nameEnd = this.nameEnd(this.pos + 1);
    if (nameEnd < 0) fail('a malformed start tag');
    const name = xml.slice(this.pos + 1, nameEnd);
    this.countNode();
    if (this.stack.length >= limits.maxDepth) fail(`nested deeper than ${limits.maxDepth} elements`);
    // A tag ends before the next `<` (attribute values may not hold one).
    let limit = xml.indexOf('<', nameEnd);
    if (limit < 0) limit = xml.length;
    let i = nameEnd;
    let seen: string[] | undefined;
    let type: string | undefined;
    let selfClosing = false;
    for (;;) {
      const at = this.skipSpace(i);
      const c = xml.charCodeAt(at);
      if (c === GT) {
        i = at + 1;
        break;
      }
      if (c === SLASH && xml.charCodeAt(at + 1) === GT) {
        i = at + 2;
        selfClosing = true;
        break;
      }
      // Attributes are separated from the name and from each other by whitespace.
      if (at === i) fail('a malformed start tag');
      const attributeEnd = this.nameEnd(at);
      if (attributeEnd < 0) fail('a malformed attribute');
      const attribute = xml.slice(at, attributeEnd);
      this.attributes += 1;
      if (this.attributes > limits.maxAttributes) fail(`more than ${limits.maxAttributes} attributes`);
      seen ??= [];
      if (seen.length >= limits.maxAttributesPerElement) fail(`more than ${limits.maxAttributesPerElement} attributes on one element`);
      if (seen.includes(attribute)) fail('a repeated attribute');
      seen.push(attribute);
      const equals = this.skipSpace(attributeEnd);
      if (xml.charCodeAt(equals) !== EQUALS) fail('a malformed attribute');
      const open = this.skipSpace(equals + 1);
      const quote = xml[open];
      if (quote !== '"' && quote !== "'") fail('a malformed attribute');
      const close = xml.indexOf(quote, open + 1);
      if (close < 0 || close > limit) fail('a malformed attribute');
      this.checkReferences(open + 1, close);
      if (attribute === 'type' || (attribute.endsWith(':type') && !attribute.startsWith('xmlns:'))) type = xml.slice(open + 1, close);
      i = close + 1;
    }
    if (i > limit) fail('a malformed start tag');
    this.pos = i;
    this.stack.push(name);
    // Below the fields of an sObject nothing is read: only the well-formedness is checked.
    if (this.stack.length <= 6) this.opened(localName(name), type);
    if (selfClosing) this.closed(this.stack.pop() ?? name);
  }

  /** An element opened: what its place in the envelope makes of it. */
  private opened(name: string, type: string | undefined): void {
    const { stack, limits } = this;
    const depth = stack.length;
    const parent = depth >= 2 ? localName(stack[depth - 2] ?? '') : '';
    if (depth === 1) {
      if (name !== 'Envelope') fail('not a SOAP envelope');
    } else if (depth === 3 && parent === 'Body' && name === 'notifications') {
      this.notificationsSeen += 1;
      if (this.notificationsSeen > 1) fail('more than one notifications element');
    } else if (depth === 4 && parent === 'notifications') {
      if (name === 'OrganizationId') {
        if (this.organizationId !== undefined) fail('more than one OrganizationId');
        this.startCapture('organizationId');
      } else if (name === 'ActionId') {
        if (this.actionId !== undefined) fail('more than one ActionId');
        this.startCapture('actionId');
      } else if (name === 'Notification') {
        if (this.notifications.length >= limits.maxNotifications) fail(`more than ${limits.maxNotifications} notifications`);
        this.draft = { sObjects: 0 };
      }
    } else if (depth === 5 && parent === 'Notification' && this.draft) {
      if (name === 'Id') {
        if (this.draft.id !== undefined) fail('a Notification with more than one Id');
        this.startCapture('notificationId');
      } else if (name === 'sObject') {
        this.draft.sObjects += 1;
        if (this.draft.sObjects > 1) fail('a Notification with more than one sObject');
        const object = type === undefined ? '' : localName(type);
        if (!OBJECT_NAME.test(object)) fail('an sObject without a valid xsi:type');
        this.draft.object = object;
      }
    } else if (depth === 6 && parent === 'sObject' && name === 'Id' && this.draft) {
      if (this.draft.recordId !== undefined) fail('an sObject with more than one Id');
      this.startCapture('recordId');
    }
  }

  private startCapture(kind: Capture): void {
    this.capture = kind;
    this.captured = '';
  }

  /** An element closed (`stack` no longer holds it). */
  private closed(qualified: string): void {
    if (this.stack.length === 0) this.rootClosed = true;
    const capture = this.capture;
    if (capture) {
      const value = this.captured.trim();
      if (!ID.test(value))
        fail(
          `${capture === 'organizationId' ? 'an OrganizationId' : capture === 'actionId' ? 'an ActionId' : 'an Id'} that is not a Salesforce id`,
        );
      if (capture === 'organizationId') this.organizationId = value;
      else if (capture === 'actionId') this.actionId = value;
      else if (capture === 'notificationId' && this.draft) this.draft.id = value;
      else if (this.draft) this.draft.recordId = value;
      this.capture = undefined;
      return;
    }
    const draft = this.draft;
    if (this.stack.length === 3 && draft && localName(qualified) === 'Notification') {
      if (draft.id === undefined) fail('a Notification without an Id');
      if (draft.object === undefined) fail('a Notification without an sObject');
      if (draft.recordId === undefined) fail('an sObject without an Id');
      this.notifications.push({ id: draft.id, object: draft.object, recordId: draft.recordId });
      this.draft = undefined;
    }
  }
}

/** Reads a message; throws `MalformedPayloadError` (fixed text) on anything else. */
export function readOutboundMessage(body: Buffer, limits: OutboundLimits = OUTBOUND_LIMITS): OutboundMessage {
  if (body.length > limits.maxBytes) fail(`the body exceeds ${limits.maxBytes} bytes`);
  if (!isUtf8(body)) fail('not UTF-8');
  return new Scanner(body.toString('latin1'), limits).read();
}
