import { type CfnElement, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/**
 * How cdk-nag writes a resource attribute in a finding id, e.g. `<Fn1234.Arn>`: acknowledging one
 * specific wildcard needs the exact id, and logical ids must not be copied by hand.
 */
export function nagAttRef(construct: Construct, attribute = 'Arn'): string {
  const child = construct.node.defaultChild;
  if (!child) throw new Error(`${construct.node.path} has no CloudFormation resource`);
  return `<${Stack.of(construct).getLogicalId(child as CfnElement)}.${attribute}>`;
}
