import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { ExecutionInput } from '../config/workflow.js';
import { executionArn } from '../config/workflow.js';
import { isEndedTask } from './task-token-client.js';

const defaultClient = new SFNClient({});

/**
 * Matched on the error's `name` string, not the class's: minified bundles rename classes, so
 * `ExecutionAlreadyExists.name` is no longer "ExecutionAlreadyExists" in the deployed code.
 */
const isNamed = (e: unknown, ...names: string[]) => e instanceof Error && names.includes(e.name);

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

  /** The execution's status, or undefined when there is no execution of that name. */
  async status(executionName: string): Promise<string | undefined> {
    try {
      const out = await this.client.send(
        new DescribeExecutionCommand({ executionArn: executionArn(this.stateMachineArn, executionName) }),
      );
      return out.status;
    } catch (e) {
      if (isNamed(e, 'ExecutionDoesNotExist')) return undefined;
      throw e;
    }
  }

  /** Hands a waiting task its result; false when that wait had already ended. */
  async resume(taskToken: string, output: unknown = {}): Promise<boolean> {
    try {
      await this.client.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) }));
      return true;
    } catch (e) {
      // The wait is over (timed out, or its execution stopped): nothing left to resume.
      if (isEndedTask(e)) return false;
      throw e;
    }
  }

  async isActive(): Promise<boolean> {
    const out = await this.client.send(
      new DescribeStateMachineCommand({ stateMachineArn: this.stateMachineArn }),
    );
    return out.status === 'ACTIVE';
  }
}
