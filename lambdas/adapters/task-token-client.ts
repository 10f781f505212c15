import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';

const defaultClient = new SFNClient({});

/** The task a token belonged to is over (timed out, or its execution stopped): nobody waits for it. */
export const ENDED_TASK_ERRORS: readonly string[] = ['TaskDoesNotExist', 'TaskTimedOut', 'InvalidToken'];

/** Matched on `name`: minified bundles rename the SDK's exception classes. */
export const isEndedTask = (e: unknown) => e instanceof Error && ENDED_TASK_ERRORS.includes(e.name);

/** SendTaskFailure's limits on `error` and `cause`. */
const MAX_ERROR_CHARS = 256;
const MAX_CAUSE_CHARS = 32_768;

/**
 * A callback task's side of Step Functions: report liveness, success or failure for a task token.
 * Each call answers false when the task has already ended, and throws on anything else (throttling
 * or an outage that outlasted the SDK's retries).
 */
export class TaskTokenClient {
  constructor(private readonly client: SFNClient = defaultClient) {}

  heartbeat(taskToken: string): Promise<boolean> {
    return this.answer(new SendTaskHeartbeatCommand({ taskToken }));
  }

  succeed(taskToken: string, output: unknown): Promise<boolean> {
    return this.answer(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output ?? null) }));
  }

  /** `error` is what Retry and Catch match on, as the name of an error a Lambda task throws. */
  fail(taskToken: string, error: string, cause: string): Promise<boolean> {
    return this.answer(
      new SendTaskFailureCommand({
        taskToken,
        error: error.slice(0, MAX_ERROR_CHARS),
        cause: cause.slice(0, MAX_CAUSE_CHARS),
      }),
    );
  }

  private async answer(
    command: SendTaskHeartbeatCommand | SendTaskSuccessCommand | SendTaskFailureCommand,
  ): Promise<boolean> {
    try {
      await this.client.send(command as SendTaskSuccessCommand);
      return true;
    } catch (e) {
      if (isEndedTask(e)) return false;
      throw e;
    }
  }
}
