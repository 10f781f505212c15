import {
  DescribeStateMachineCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { ExecutionInput } from '../config/workflow.js';
import { executionArn } from '../config/workflow.js';

const defaultClient = new SFNClient({});

/**
 * Matched on the error's `name` string, not the class's: minified bundles rename classes, so
 * `ExecutionAlreadyExists.name` is no longer "ExecutionAlreadyExists" in the deployed code.
 */
const isNamed = (e: unknown, name: 'ExecutionAlreadyExists' | 'ExecutionDoesNotExist') =>
  e instanceof Error && e.name === name;

/** Step Functions as the job lifecycle needs it: start once per job, stop on cancel. */
export class WorkflowClient {
  constructor(
    readonly stateMachineArn: string,
    private readonly client: SFNClient = defaultClient,
  ) {}

  /** Idempotent by execution name: a redelivered stream record never starts a second execution. */
  async start(executionName: string, input: ExecutionInput): Promise<'started' | 'already_started'> {
    try {
      await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name: executionName,
          input: JSON.stringify(input),
        }),
      );
      return 'started';
    } catch (e) {
      if (isNamed(e, 'ExecutionAlreadyExists')) return 'already_started';
      throw e;
    }
  }

  /** Stopping an execution that never started or already ended is not an error for a cancel. */
  async stop(executionName: string, cause: string): Promise<void> {
    try {
      await this.client.send(
        new StopExecutionCommand({
          executionArn: executionArn(this.stateMachineArn, executionName),
          error: 'JobCancelled',
          cause,
        }),
      );
    } catch (e) {
      if (!isNamed(e, 'ExecutionDoesNotExist')) throw e;
    }
  }

  async isActive(): Promise<boolean> {
    const out = await this.client.send(
      new DescribeStateMachineCommand({ stateMachineArn: this.stateMachineArn }),
    );
    return out.status === 'ACTIVE';
  }
}
