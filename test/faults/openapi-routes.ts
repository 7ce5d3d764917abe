import type { TestEngine } from '../support/engine-harness.ts';

// The routes the fault suite attacks, read from the engine's own OpenAPI document, so that a route
// added later is covered without anyone remembering to: its method and path, the authentication it
// states (`x-continuum-auth`, set in src/http/server.ts from the route's scope), its parameters and
// the JSON Schema of its body. Plus a small generator of plausible bodies from those schemas (the
// base that hostile cases mutate field by field).

export type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  nullable?: boolean;
  minimum?: number;
  exclusiveMinimum?: number | boolean;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  format?: string;
  additionalProperties?: boolean | JsonSchema;
};

export interface RouteParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required: boolean;
  schema: JsonSchema;
}

export interface RouteOperation {
  method: string;
  /** The OpenAPI path, `{param}` style. */
  path: string;
  /** `public`, or `api_key:<scope>`. */
  auth: string;
  parameters: RouteParameter[];
  bodySchema: JsonSchema | undefined;
  /** `METHOD /path`, for messages. */
  name: string;
}

/** Every operation of GET /openapi.json. */
export async function readOperations(harness: TestEngine): Promise<RouteOperation[]> {
  const response = await harness.request('GET', '/openapi.json', { key: '' });
  if (response.status !== 200) throw new Error(`/openapi.json answered ${response.status}`);
  const operations: RouteOperation[] = [];
  for (const [path, methods] of Object.entries<Record<string, any>>(response.body.paths)) {
    for (const [method, operation] of Object.entries<any>(methods)) {
      operations.push({
        method: method.toUpperCase(), path, auth: String(operation['x-continuum-auth'] ?? 'undocumented'),
        parameters: (operation.parameters ?? []).map((parameter: any) => ({ name: parameter.name, in: parameter.in, required: Boolean(parameter.required), schema: parameter.schema ?? {} })),
        bodySchema: operation.requestBody?.content?.['application/json']?.schema, name: `${method.toUpperCase()} ${path}`,
      });
    }
  }
  return operations;
}

/** The path with each `{param}` replaced (the value is URL-encoded). */
export function fillPath(path: string, valueOf: (name: string) => string): string {
  return path.replace(/\{(\w+)\}/g, (_match, name: string) => encodeURIComponent(valueOf(name)));
}

export function pathParameterNames(path: string): string[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!);
}

/** Values to use for fields of these names (real ids of the test's data), before any generic example. */
export type ExampleHints = Record<string, unknown>;

function firstOption(schema: JsonSchema): JsonSchema {
  const options = schema.anyOf ?? schema.oneOf;
  if (!options) return schema;
  return options.find((option) => option.type !== 'null') ?? options[0] ?? {};
}

function typeOf(schema: JsonSchema): string | undefined {
  return Array.isArray(schema.type) ? schema.type.find((type) => type !== 'null') : schema.type;
}

/** A plausible value for a schema: hints by field name first, then defaults, enums, bounds. */
export function exampleOf(schema: JsonSchema, hints: ExampleHints, name?: string): unknown {
  if (name !== undefined && name in hints) return hints[name];
  const chosen = firstOption(schema);
  if (chosen !== schema) return exampleOf(chosen, hints, name);
  if (schema.allOf) return Object.assign({}, ...schema.allOf.map((part) => exampleOf(part, hints, name)));
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return schema.enum[0];
  switch (typeOf(schema)) {
    case 'object': {
      const example: Record<string, unknown> = {};
      for (const [property, propertySchema] of Object.entries(schema.properties ?? {})) example[property] = exampleOf(propertySchema, hints, property);
      return example;
    }
    case 'array': return Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () => exampleOf(schema.items ?? {}, hints));
    case 'integer':
    case 'number': {
      const minimum = typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum + 1 : schema.minimum;
      return Math.max(minimum ?? 1, Math.min(schema.maximum ?? 1, 1));
    }
    case 'boolean': return schema.default ?? false;
    case 'string': {
      if (schema.default !== undefined) return schema.default;
      if (schema.format === 'date-time') return new Date().toISOString();
      if (schema.format === 'date') return new Date().toISOString().slice(0, 10);
      if (schema.format === 'email') return 'hostile@example.com';
      if (schema.format === 'uri' || schema.format === 'url') return 'https://example.com/hostile';
      return 'x'.repeat(Math.max(1, schema.minLength ?? 1));
    }
    default: return schema.default ?? null;
  }
}

export type FieldPath = (string | number)[];

/** Every field of an example (objects' properties and arrays' first items, nested), with its schema. */
export function listFields(schema: JsonSchema, example: unknown, prefix: FieldPath = []): { path: FieldPath; schema: JsonSchema }[] {
  const chosen = firstOption(schema);
  const fields: { path: FieldPath; schema: JsonSchema }[] = prefix.length > 0 ? [{ path: prefix, schema: chosen }] : [];
  if (typeOf(chosen) === 'object' && example && typeof example === 'object' && !Array.isArray(example)) {
    for (const [property, propertySchema] of Object.entries(chosen.properties ?? {})) {
      fields.push(...listFields(propertySchema, (example as Record<string, unknown>)[property], [...prefix, property]));
    }
  } else if (typeOf(chosen) === 'array' && Array.isArray(example) && example.length > 0 && chosen.items) {
    fields.push(...listFields(chosen.items, example[0], [...prefix, 0]));
  }
  return fields;
}

function jsonTypesAccepted(schema: JsonSchema): Set<string> | undefined {
  const options = schema.anyOf ?? schema.oneOf;
  if (options) {
    const union = new Set<string>();
    for (const option of options) {
      const accepted = jsonTypesAccepted(option);
      if (!accepted) return undefined;
      for (const type of accepted) union.add(type);
    }
    return union;
  }
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : undefined;
  if (!types) return schema.enum ? new Set(schema.enum.map((value) => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value))) : undefined;
  const accepted = new Set(types.map((type) => (type === 'integer' ? 'number' : type)));
  if (schema.nullable) accepted.add('null');
  return accepted;
}

const valuesOfEveryType: [string, unknown][] = [['number', 12345], ['string', 'not what this field takes'], ['boolean', true], ['array', ['wrong']], ['object', { wrong: true }], ['null', null]];

/** A value of a JSON type the field does not accept, or undefined when it accepts any. */
export function wrongTypeValue(schema: JsonSchema): unknown {
  const accepted = jsonTypesAccepted(schema);
  if (!accepted) return undefined;
  return valuesOfEveryType.find(([type]) => !accepted.has(type))?.[1];
}

/** A deep copy of `value` with the field at `path` replaced. */
export function replaceAt(value: unknown, path: FieldPath, replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path;
  const copy = Array.isArray(value) ? [...value] : { ...(value as Record<string, unknown>) };
  (copy as Record<string | number, unknown>)[head!] = replaceAt((value as Record<string | number, unknown>)[head!], rest, replacement);
  return copy;
}

export function describePath(path: FieldPath): string {
  return path.join('.');
}
