import { type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { Construct } from 'constructs';
import { createApp } from '../../lib/app.js';
import type { HandlerFunction } from '../../lib/constructs/handler-function.js';
import type { AgentJobsStack } from '../../lib/stacks/agent-jobs-stack.js';
import { type AslDefinition, type CfnTemplate, stateMachineDefinition } from '../../lib/workflows/asl.js';

export interface Synthesized {
  stack: AgentJobsStack;
  template: Template;
  json: CfnTemplate & { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
  asl: AslDefinition;
}

let cached: Synthesized | undefined;

/** One synthesis per test file: the stack is deterministic and synthesizing is the slow part. */
export function synth(): Synthesized {
  if (!cached) {
    const { stack } = createApp({ skipBundling: true });
    const template = Template.fromStack(stack);
    const json = template.toJSON() as Synthesized['json'];
    cached = { stack, template, json, asl: stateMachineDefinition(json) };
  }
  return cached;
}

/** The logical id of an L2 construct's CloudFormation resource (or of a CfnElement itself). */
export function logicalId(construct: Construct): string {
  return Stack.of(construct).getLogicalId((construct.node.defaultChild ?? construct) as CfnElement);
}

/** Every Lambda function of the stack, keyed by handler file name. */
export function handlerFunctions(stack: AgentJobsStack): Map<string, HandlerFunction> {
  const all = [
    ...stack.api.handlers.values(),
    stack.workflow.agentStep,
    stack.workflow.markFailed,
    stack.streamConsumer.handler,
    stack.eventsConsumer.handler,
    stack.reconciler.handler,
    stack.sweeper.handler,
    stack.webhooks.handler,
  ];
  return new Map(all.map((h) => [h.handlerName, h]));
}

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

/** The Allow statements of every policy attached to the role, with actions flattened. */
export function roleStatements(
  json: Synthesized['json'],
  roleLogicalId: string,
): { actions: string[]; resource: unknown }[] {
  return Object.values(json.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .filter((r) => (r.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === roleLogicalId))
    .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
    .filter((s) => s.Effect === 'Allow')
    .map((s) => ({ actions: [s.Action].flat(), resource: s.Resource }));
}

/** Actions granted to the role, minus the logging and tracing every function gets. */
export function grantedActions(json: Synthesized['json'], roleLogicalId: string): string[] {
  const common = /^(logs:CreateLogStream|logs:PutLogEvents|xray:PutTraceSegments|xray:PutTelemetryRecords)$/;
  const actions = roleStatements(json, roleLogicalId).flatMap((s) => s.actions);
  return [...new Set(actions.filter((a) => !common.test(a)))].sort();
}
