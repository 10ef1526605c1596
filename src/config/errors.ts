/**
 * Problems found in a configuration file. They are returned as values (never thrown) and
 * printed as `path/to/file.yaml:LINE:COL: message`, the form editors and terminals link.
 */

/** Stable codes, one per kind of problem. */
export type ConfigErrorCode =
  /** The file could not be read. */
  | 'file_unreadable'
  /** The YAML itself does not parse. */
  | 'yaml_syntax'
  /** A key the schema does not know. */
  | 'unknown_key'
  /** A required key is absent. */
  | 'missing_key'
  /** A value of the wrong type (string where a number belongs...). */
  | 'invalid_type'
  /** A value outside an enumeration. */
  | 'invalid_value'
  /** A map key that is not a valid id. */
  | 'invalid_key'
  /** A connector `type` that no registered connector declares. */
  | 'unknown_connector_type'
  /** Any other schema rule (length, format, range...). */
  | 'invalid'
  /** `${env:NAME}` with NAME unset and no default. */
  | 'env_missing'
  /** A malformed `${...}` reference. */
  | 'env_syntax'
  /** A secret field written as a literal instead of `${env:NAME}`. */
  | 'secret_literal'
  /** A secret that fell back to its `:-default` outside development mode. */
  | 'secret_default'
  /** A URL with a literal password in it. */
  | 'credentials_literal'
  /** A reference to a purpose, channel or topic that the catalog does not define. */
  | 'dangling_reference'
  /** An id reserved for the hub itself. */
  | 'reserved_id'
  /** Development mode with a public URL that is not on loopback. */
  | 'development_public_url'
  /** Development mode, or a published development secret, with `listen.host` off loopback. */
  | 'development_listen_host'
  /** Production mode with a public URL that is not https. */
  | 'production_public_url'
  /** Production mode with the embedded mail catcher instead of an SMTP server. */
  | 'production_mail_catcher'
  /** Production mode with a secret published with Concord for development (or its digest). */
  | 'secret_published'
  /** Production mode with a generated secret below 256 bits of strength. */
  | 'secret_weak'
  /** A rule of the connector's own (`checkConfig`), e.g. a setting production requires. */
  | 'connector_rule'
  /**
   * A YAML mapping entry with the same canonical target and external field as one the connector
   * derives from its own keys (`derivedMappings`), saying something else.
   */
  | 'mapping_conflict'
  /** A text (catalog item, notice, notice version, connector display name) without a locale it needs. */
  | 'missing_translation'
  /** A locale that `catalog.locales` does not list (a text's key, `catalog.defaultLocale`). */
  | 'unknown_locale'
  /** A mail text uses a placeholder that mail does not have. */
  | 'unknown_placeholder'
  /** A mail text lacks a placeholder it must carry (a link mail's `{url}`). */
  | 'missing_placeholder';

/** A position in the file, 1-based. */
export interface SourcePosition {
  line: number;
  col: number;
}

/** One problem in a configuration file. */
export class ConfigError {
  constructor(
    readonly code: ConfigErrorCode,
    /** The file as the caller named it. */
    readonly file: string,
    readonly position: SourcePosition | undefined,
    /** The problem, without the file prefix; never contains a secret's value. */
    readonly message: string,
    /** Where in the config the problem is, e.g. `['hub', 'secrets', 'signing']`. */
    readonly path: readonly (string | number)[] = [],
  ) {}

  /** `file:LINE:COL: message` (or `file: message` when there is no position). */
  toString(): string {
    const where = this.position ? `${this.file}:${this.position.line}:${this.position.col}` : this.file;
    return `${where}: ${this.message}`;
  }
}

/** What a config warning is about. */
export type ConfigWarningErrorCode = 'secret_development_default' | 'api_key_plain' | 'api_key_previous_expired';

/** A warning: the file is valid, but something deserves attention (e.g. development defaults). */
export class ConfigWarning {
  constructor(
    readonly code: ConfigWarningErrorCode,
    readonly file: string,
    readonly position: SourcePosition | undefined,
    readonly message: string,
  ) {}

  toString(): string {
    const where = this.position ? `${this.file}:${this.position.line}:${this.position.col}` : this.file;
    return `${where}: warning: ${this.message}`;
  }
}

/** `connectors.crm.mappings[2].consent`, the way the errors name a place in the config. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out === '' ? '(root)' : out;
}
