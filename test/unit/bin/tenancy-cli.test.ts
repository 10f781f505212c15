import { describe, expect, it } from 'vitest';
import { keysMain, parseKeysCommand } from '../../../bin/keys-cli.js';
import { takeTargetFlags } from '../../../bin/tenancy-target.js';
import { parseTenantsCommand, tenantsMain } from '../../../bin/tenants-cli.js';

describe('agent-jobs keys: parsing', () => {
  it('reads create with its options', () => {
    expect(
      parseKeysCommand([
        'create',
        '--tenant',
        'acme',
        '--name',
        'ci key',
        '--expires-in-days',
        '30',
        '--json',
      ]),
    ).toEqual({
      action: 'create',
      tenant: 'acme',
      name: 'ci key',
      expiresInDays: 30,
      json: true,
    });
    expect(parseKeysCommand(['create', '--tenant', 'acme'])).toEqual({
      action: 'create',
      tenant: 'acme',
      name: 'default',
      expiresInDays: undefined,
      json: false,
    });
  });

  it('reads list with or without a tenant, and revoke with a key id', () => {
    expect(parseKeysCommand(['list'])).toEqual({ action: 'list', tenant: undefined, json: false });
    expect(parseKeysCommand(['list', '--tenant', 'acme', '--json'])).toEqual({
      action: 'list',
      tenant: 'acme',
      json: true,
    });
    expect(parseKeysCommand(['revoke', 'key_0123456789abcdef01234567'])).toEqual({
      action: 'revoke',
      keyId: 'key_0123456789abcdef01234567',
    });
  });

  it.each([
    [['create']],
    [['create', '--tenant', 'Acme']],
    [['create', '--tenant', 'a#b']],
    [['create', '--tenant', 'acme', '--expires-in-days', '0']],
    [['create', '--tenant', 'acme', '--expires-in-days', '1.5']],
    [['create', '--tenant', 'acme', '--expires-in-days', '4000']],
    [['create', '--tenant', 'acme', '--name', ' padded']],
    [['create', '--tenant', 'acme', 'extra']],
    [['list', '--tenant', '']],
    [['revoke']],
    [['revoke', 'ak_not_an_id']],
    [['rotate']],
    [[]],
  ])('refuses %j', (args) => {
    expect(() => parseKeysCommand(args)).toThrow();
  });

  it('exits 2 with the usage on bad input, before touching any table', async () => {
    const err: string[] = [];
    const code = await keysMain(
      ['create', '--tenant', 'BAD'],
      {},
      () => {},
      (l) => err.push(l),
    );
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(/tenant "BAD" is not valid/);
  });

  it('needs a table when not local', async () => {
    const err: string[] = [];
    expect(
      await keysMain(
        ['list'],
        {},
        () => {},
        (l) => err.push(l),
      ),
    ).toBe(2);
    expect(err.join('\n')).toMatch(/--table or AGENT_JOBS_TABLE_NAME is required/);
  });
});

describe('agent-jobs tenants: parsing', () => {
  it('reads set-limits with any of the five limits', () => {
    expect(
      parseTenantsCommand([
        'set-limits',
        'acme',
        '--requests-per-minute',
        '120',
        '--max-streams',
        '4',
        '--tokens-per-minute',
        '9000',
        '--max-running-jobs',
        '2',
        '--max-queued-jobs',
        '50',
      ]),
    ).toEqual({
      action: 'set-limits',
      tenant: 'acme',
      limits: {
        requestsPerMinute: 120,
        tokensPerMinute: 9000,
        maxRunningJobs: 2,
        maxQueuedJobs: 50,
        maxStreams: 4,
      },
    });
  });

  it('reads show', () => {
    expect(parseTenantsCommand(['show', 'acme', '--json'])).toEqual({
      action: 'show',
      tenant: 'acme',
      json: true,
    });
  });

  it.each([
    [['set-limits', 'acme']],
    [['set-limits', 'acme', '--requests-per-minute', '0']],
    [['set-limits', 'acme', '--requests-per-minute']],
    [['set-limits', '--max-streams', '2']],
    [['set-limits', 'acme', '--max-streams', '1001']],
    [['set-limits', 'acme', '--max-running-jobs', '1001']],
    [['show', 'acme', '--max-streams', '2']],
    [['show', 'Bad']],
    [['usage']],
    [['usage', 'acme', '--from', '2026-02-30']],
    [['usage', 'acme', '--to', '2026-12-04', '--from', '2026-12-05']],
    [['usage', 'acme', '--from', '2026-01-01', '--to', '2026-04-03']],
    [['usage', 'acme', '--from']],
    [['usage', 'acme', 'extra']],
    [['usage', 'acme', '--max-streams', '2']],
    [['rename', 'acme']],
  ])('refuses %j', (args) => {
    expect(() => parseTenantsCommand(args)).toThrow();
  });

  it('reads usage with its range, defaulting to the 30 days up to today (UTC)', () => {
    const now = new Date('2026-12-05T23:00:00Z');
    expect(
      parseTenantsCommand(['usage', 'acme', '--from', '2026-12-01', '--to', '2026-12-03', '--json'], now),
    ).toEqual({
      action: 'usage',
      tenant: 'acme',
      range: { from: '2026-12-01', to: '2026-12-03' },
      json: true,
    });
    expect(parseTenantsCommand(['usage', 'acme'], now)).toEqual({
      action: 'usage',
      tenant: 'acme',
      range: { from: '2026-11-06', to: '2026-12-05' },
      json: false,
    });
  });

  it('says which usage date is wrong, exiting 2 before touching any table', async () => {
    const err: string[] = [];
    const code = await tenantsMain(
      ['usage', 'acme', '--from', '2026-12-05', '--to', '2026-12-01', '--table', 't'],
      {},
      () => {},
      (line) => err.push(line),
    );
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(/^--to must not be before from/);
  });

  it('exits 2 on bad input', async () => {
    expect(
      await tenantsMain(
        ['set-limits', 'acme'],
        {},
        () => {},
        () => {},
      ),
    ).toBe(2);
  });
});

describe('where the table is', () => {
  it('defaults --local to AGENT_JOBS_DATA_DIR, else .data', () => {
    expect(takeTargetFlags(['--local'], { AGENT_JOBS_DATA_DIR: '/srv/data' }).localDir).toBe('/srv/data');
    expect(takeTargetFlags(['--local'], {}).localDir).toBe('.data');
    expect(takeTargetFlags(['--local', 'here'], { AGENT_JOBS_DATA_DIR: '/srv/data' }).localDir).toBe('here');
  });

  it('takes the deployed table from the flag or the environment', () => {
    const args = ['list', '--table', 'from-flag'];
    expect(takeTargetFlags(args, { AGENT_JOBS_TABLE_NAME: 'from-env' })).toMatchObject({
      localDir: undefined,
      table: 'from-flag',
    });
    expect(args).toEqual(['list']);
    expect(takeTargetFlags([], { AGENT_JOBS_TABLE_NAME: 'from-env' }).table).toBe('from-env');
  });
});
