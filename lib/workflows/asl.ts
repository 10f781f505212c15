/**
 * Reading the state machine definition back out of a synthesized template: the construct tests
 * assert on it and the local stack runs it (with tokens resolved to its local resources), so both
 * see exactly the ASL that would be deployed.
 */

export type CfnTemplate = {
  Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
};

/** Turns a CloudFormation token into the text that stands in for it in the definition. */
export type TokenResolver = (token: Record<string, unknown>) => string;

/** `<Ref:Id>` / `<GetAtt:Id.Attr>`: visible, unique and never valid ASL on their own. */
export const placeholderResolver: TokenResolver = (token) => {
  if (typeof token.Ref === 'string') return `<Ref:${token.Ref}>`;
  const getAtt = token['Fn::GetAtt'];
  if (Array.isArray(getAtt)) return `<GetAtt:${getAtt.join('.')}>`;
  throw new Error(`unsupported token in state machine definition: ${JSON.stringify(token)}`);
};

function joinDefinition(definition: unknown, resolve: TokenResolver): string {
  if (typeof definition === 'string') return definition;
  const join = (definition as Record<string, unknown>)['Fn::Join'];
  if (!Array.isArray(join) || join[0] !== '' || !Array.isArray(join[1])) {
    throw new Error('DefinitionString is neither a string nor an Fn::Join with an empty separator');
  }
  return join[1]
    .map((part: unknown) => (typeof part === 'string' ? part : resolve(part as Record<string, unknown>)))
    .join('');
}

/** The parsed ASL of the template's only state machine, with tokens resolved by `resolve`. */
export function stateMachineDefinition(
  template: CfnTemplate,
  resolve: TokenResolver = placeholderResolver,
): AslDefinition {
  const machines = Object.values(template.Resources ?? {}).filter(
    (r) => r.Type === 'AWS::StepFunctions::StateMachine',
  );
  if (machines.length !== 1) throw new Error(`expected exactly one state machine, found ${machines.length}`);
  return JSON.parse(joinDefinition(machines[0]?.Properties?.DefinitionString, resolve)) as AslDefinition;
}

export interface AslDefinition {
  StartAt: string;
  TimeoutSeconds?: number;
  States: Record<string, AslState>;
  [key: string]: unknown;
}

export type AslState = Record<string, unknown> & { Type: string };

/** Fields the local runner ignores silently; if they crept in, local runs would diverge from AWS. */
const FORBIDDEN_FIELDS = ['QueryLanguage', 'Assign', 'Arguments', 'Output'];

type StateMachineLike = { States?: Record<string, Record<string, unknown>> };

/** The machine's states and those of nested Map and Parallel states, keyed by a readable path. */
function allStates(machine: StateMachineLike, path: string): [string, Record<string, unknown>][] {
  return Object.entries(machine.States ?? {}).flatMap(([name, state]) => {
    const here = `${path}.States.${name}`;
    const nested = [
      ...((state.Branches as StateMachineLike[] | undefined) ?? []),
      ...[state.ItemProcessor, state.Iterator].filter(Boolean),
    ] as StateMachineLike[];
    return [[here, state] as [string, Record<string, unknown>], ...nested.flatMap((m) => allStates(m, here))];
  });
}

function jsonataStrings(value: unknown, path: string): string[] {
  if (typeof value === 'string')
    return value.includes('{%') ? [`${path}: JSONata expression ${JSON.stringify(value)}`] : [];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, child]) => jsonataStrings(child, `${path}.${key}`));
}

/**
 * Lists every JSONata expression in the definition and every state (nested ones included) or
 * top level that uses a JSONata-era field. An empty list means plain JSONPath ASL.
 */
export function aslLintViolations(definition: StateMachineLike & Record<string, unknown>): string[] {
  const scopes: [string, Record<string, unknown>][] = [['$', definition], ...allStates(definition, '$')];
  const fields = scopes.flatMap(([path, obj]) =>
    FORBIDDEN_FIELDS.filter((f) => f in obj).map((f) => `${path}: field ${f} is not allowed`),
  );
  return [...fields, ...jsonataStrings(definition, '$')];
}
