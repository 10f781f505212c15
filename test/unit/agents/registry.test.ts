import { describe, expect, it } from 'vitest';
import type { AgentDescriptor } from '../../../lambdas/agents/agent.js';
import { echoAgent } from '../../../lambdas/agents/echo.js';
import {
  AGENT_CATALOG,
  agentLookup,
  agentNames,
  assertValidAgent,
  findAgentDescriptor,
} from '../../../lambdas/agents/catalog.js';
import { BUILT_IN_AGENTS, findAgent } from '../../../lambdas/agents/registry.js';

describe('assertValidAgent', () => {
  const agent = { name: 'long', stepTimeoutSeconds: 600 };

  it('accepts agents without heartbeats and whole heartbeats below the step timeout', () => {
    expect(() => assertValidAgent(agent)).not.toThrow();
    expect(() => assertValidAgent({ ...agent, heartbeatSeconds: 1 })).not.toThrow();
    expect(() => assertValidAgent({ ...agent, heartbeatSeconds: 599 })).not.toThrow();
  });

  it.each([0, -5, 1.5, 600, 900, Number.NaN])(
    'refuses heartbeatSeconds %s, which Step Functions would reject at the first step',
    (heartbeatSeconds) => {
      expect(() => assertValidAgent({ ...agent, heartbeatSeconds })).toThrow(/agent long: heartbeatSeconds/);
    },
  );
});

describe('agentLookup', () => {
  const extra = { ...echoAgent, name: 'extra' };

  it('finds the agents it was built over, and the deployment lookup stays the built-in agents', () => {
    const local = agentLookup([...BUILT_IN_AGENTS, extra]);
    expect(local('extra')).toBe(extra);
    expect(local('echo')).toBe(echoAgent);
    expect(findAgent('extra')).toBeUndefined();
    expect(agentNames()).toEqual(BUILT_IN_AGENTS.map((a) => a.name));
  });

  it('refuses two agents of one name and an agent the workflow could not run', () => {
    expect(() => agentLookup([...BUILT_IN_AGENTS, { ...extra, name: 'echo' }])).toThrow(
      /an agent named echo is already registered/,
    );
    expect(() => agentLookup([{ ...extra, heartbeatSeconds: 0 }])).toThrow(/agent extra: heartbeatSeconds/);
  });
});

/** An agent's description; functions compare by identity, so availability is compared by what it reports. */
function described(agent: AgentDescriptor & { step?: unknown; prepare?: unknown; prepareFor?: unknown }) {
  const { step: _, prepare: __, prepareFor: ___, unavailableReason, ...fields } = agent;
  return { ...fields, unavailable: unavailableReason?.() };
}

describe('the agent catalog and the registry', () => {
  it('describe the same agents: what submit checks a job against is what the step runs', () => {
    expect(BUILT_IN_AGENTS.map((a) => a.name)).toEqual(AGENT_CATALOG.map((a) => a.name));
    for (const agent of BUILT_IN_AGENTS) {
      const entry = findAgentDescriptor(agent.name)!;
      expect(described(agent)).toEqual(described(entry));
      expect(agent.inputSchema).toBe(entry.inputSchema);
    }
  });
});
