import { GetExecutionHistoryCommand, type HistoryEvent, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { executionArn, WORKFLOW_STATES as S } from '../../lambdas/config/workflow.js';
import { HEARTBEAT_AGENT_SECONDS } from './agents.js';
import { apiFor } from './client.js';

const api = apiFor('heartbeat');
const sfn = new SFNClient({
  endpoint: inject('sfnEndpoint'),
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});
afterAll(() => sfn.destroy());

async function history(jobId: string): Promise<HistoryEvent[]> {
  const { events = [] } = await sfn.send(
    new GetExecutionHistoryCommand({ executionArn: executionArn(inject('stateMachineArn'), jobId) }),
  );
  return events;
}

const entered = (events: HistoryEvent[], state: string) =>
  events.filter((e) => e.type === 'TaskStateEntered' && e.stateEnteredEventDetails?.name === state).length;

// The `heartbeat` agent (test/integration/agents.ts) declares heartbeatSeconds: 2 and a 12 s step
// timeout; it signals liveness every 200 ms, which the step folds into a heartbeat per 500 ms.
describe('heartbeats of long agent steps', () => {
  it('a step that stops signalling fails the job with step_timeout: its heartbeats stopped', async () => {
    // Silent after half a second, in a step that would otherwise run 8 s (within its 12 s timeout).
    // First in the file: the hung step runs on, as in Lambda, and ends while the next test runs.
    const { body } = await api.create({
      agent: 'heartbeat',
      input: { steps: 1, stepMs: 8_000, silentAfterMs: 500 },
    });

    const done = await api.waitForTerminal(body.id, 60_000);

    expect(done.body).toMatchObject({
      status: 'failed',
      error: { code: 'step_timeout', message: 'an agent step stopped sending heartbeats', retryable: false },
      result: null,
      progress: { step: 0 },
    });
    const failures = (await history(body.id)).filter((e) => e.type === 'TaskFailed');
    expect(failures.map((e) => e.taskFailedEventDetails?.error)).toEqual(['States.HeartbeatTimeout']);
  });

  it('a step that keeps signalling runs well past heartbeatSeconds and the job succeeds', async () => {
    const stepMs = HEARTBEAT_AGENT_SECONDS * 2_500;
    const { body } = await api.create({ agent: 'heartbeat', input: { steps: 2, stepMs } });

    const done = await api.waitForTerminal(body.id, 60_000);

    expect(done.body).toMatchObject({
      status: 'succeeded',
      result: { steps: 2 },
      progress: { step: 2, fraction: 1 },
      error: null,
    });
    // Both steps ran as the callback task; plain AgentStep only handed the first step over.
    const events = await history(body.id);
    expect(entered(events, S.agentStepWithHeartbeat)).toBe(2);
    expect(entered(events, S.agentStep)).toBe(1);
    expect(events.filter((e) => e.type === 'TaskFailed')).toEqual([]);
  });

  it('agents without heartbeatSeconds keep the plain step', async () => {
    const { body } = await api.create({ agent: 'echo', input: { message: 'm', steps: 2, stepMs: 0 } });
    expect((await api.waitForTerminal(body.id)).body.status).toBe('succeeded');
    const events = await history(body.id);
    expect(entered(events, S.agentStep)).toBe(2);
    expect(entered(events, S.agentStepWithHeartbeat)).toBe(0);
  });
});
