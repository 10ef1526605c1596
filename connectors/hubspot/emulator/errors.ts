/**
 * HubSpot's error bodies. Top-level errors are `{status, message, correlationId, category, ...}`;
 * per-input errors inside batch responses follow the `StandardError` schema.
 */
import { randomUUID } from 'node:crypto';

export interface HubSpotErrorBody {
  status: 'error';
  message: string;
  correlationId: string;
  category: string;
  subCategory?: string;
  context?: Record<string, string[]>;
  errors?: { message: string; code?: string; in?: string; context?: Record<string, string[]> }[];
  links?: Record<string, string>;
}

/** An error the emulator answers with; routes throw it and the error handler renders it. */
export class HubSpotHttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: HubSpotErrorBody,
  ) {
    super(body.message);
  }
}

export function errorBody(
  category: string,
  message: string,
  extra: Partial<Omit<HubSpotErrorBody, 'status' | 'message' | 'category' | 'correlationId'>> = {},
): HubSpotErrorBody {
  return { status: 'error', message, correlationId: randomUUID(), category, ...extra };
}

export function validationError(message: string, extra: Partial<HubSpotErrorBody> = {}): HubSpotHttpError {
  return new HubSpotHttpError(400, errorBody('VALIDATION_ERROR', message, extra));
}

export function notFound(message = 'resource not found'): HubSpotHttpError {
  return new HubSpotHttpError(404, errorBody('OBJECT_NOT_FOUND', message));
}

/** One entry of HubSpot's `Property values were not valid` list. */
export interface PropertyValidation {
  isValid: false;
  message: string;
  error: 'PROPERTY_DOESNT_EXIST' | 'READ_ONLY_VALUE' | 'INVALID_EMAIL';
  name: string;
  localizedErrorMessage: string;
}

export function propertyValidation(error: PropertyValidation['error'], name: string, message: string): PropertyValidation {
  return { isValid: false, message, error, name, localizedErrorMessage: message };
}

export function propertyValuesNotValid(list: PropertyValidation[]): string {
  return `Property values were not valid: ${JSON.stringify(list)}`;
}

/** A per-input error inside a batch response (`StandardError`). */
export interface StandardError {
  status: 'error';
  category: string;
  message: string;
  context: Record<string, string[]>;
  links: Record<string, string>;
  errors: { message: string; code?: string }[];
  subCategory?: string;
}

export function standardError(category: string, message: string, context: Record<string, string[]>): StandardError {
  return { status: 'error', category, message, context, links: {}, errors: [] };
}
