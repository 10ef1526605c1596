/**
 * Salesforce's REST error format: an array of `{message, errorCode, fields?}`.
 * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
 */

export interface ApiErrorEntry {
  message: string;
  errorCode: string;
  fields?: string[];
}

/** An error the emulator answers with; routes throw it and the error handler renders it. */
export class SalesforceHttpError extends Error {
  readonly body: ApiErrorEntry[];
  constructor(
    readonly statusCode: number,
    errorCode: string,
    message: string,
    fields?: string[],
  ) {
    super(message);
    this.body = [{ message, errorCode, ...(fields ? { fields } : {}) }];
  }
}

export const invalidSession = (): SalesforceHttpError => new SalesforceHttpError(401, 'INVALID_SESSION_ID', 'Session expired or invalid');
export const notFound = (message = 'The requested resource does not exist'): SalesforceHttpError =>
  new SalesforceHttpError(404, 'NOT_FOUND', message);
export const malformedQuery = (message: string): SalesforceHttpError => new SalesforceHttpError(400, 'MALFORMED_QUERY', message);
export const badRequest = (errorCode: string, message: string): SalesforceHttpError => new SalesforceHttpError(400, errorCode, message);
