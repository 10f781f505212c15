import { describe, expect, it } from 'vitest';
import { isAddressAllowed, webhookUrlProblem } from '../../../lambdas/domain/webhook-url.js';

describe('webhookUrlProblem', () => {
  it.each([
    'https://hooks.example.com/agent-jobs',
    'https://hooks.example.com:8443/a?token=t',
    'https://93.184.215.14/x',
  ])('accepts %s on a deployed stack', (url) => {
    expect(webhookUrlProblem(url, 'aws')).toBeUndefined();
  });

  it.each([
    'https://hooks.example.com:22/x',
    'https://hooks.example.com:80/x',
    'https://hooks.example.com:6379/',
  ])('refuses %s on a deployed stack: only ports 443 and 8443', (url) => {
    expect(webhookUrlProblem(url, 'aws')).toBe('must use port 443 or 8443');
    expect(webhookUrlProblem(url.replace('https', 'http'), 'local')).toBeUndefined();
  });

  it('takes an explicit :443 as the default port', () => {
    expect(webhookUrlProblem('https://hooks.example.com:443/x', 'aws')).toBeUndefined();
  });

  it('wants https on a deployed stack and allows http locally', () => {
    expect(webhookUrlProblem('http://hooks.example.com/x', 'aws')).toBe('must use https');
    expect(webhookUrlProblem('http://hooks.example.com/x', 'local')).toBeUndefined();
    expect(webhookUrlProblem('ftp://hooks.example.com/x', 'local')).toBe('must use http or https');
  });

  it('lets the local stack post to the developer’s own machine', () => {
    for (const url of ['http://127.0.0.1:3000/hook', 'http://localhost:8080/', 'http://[::1]:9000/']) {
      expect(webhookUrlProblem(url, 'local')).toBeUndefined();
    }
  });

  it.each([
    ['https://127.0.0.1/hook', /127\.0\.0\.1 is not publicly routable/],
    // The URL parser turns every IPv4 spelling into dotted decimal before the check.
    ['https://0x7f.1/hook', /127\.0\.0\.1/],
    ['https://2130706433/hook', /127\.0\.0\.1/],
    ['https://10.0.0.8/hook', /not publicly routable/],
    ['https://169.254.169.254/latest/meta-data/', /not publicly routable/],
    ['https://100.100.100.200/', /not publicly routable/],
    ['https://[::1]/hook', /::1 is not publicly routable/],
    ['https://[::ffff:127.0.0.1]/hook', /not publicly routable/],
    ['https://[fd00:ec2::254]/', /not publicly routable/],
    ['https://localhost/hook', /local or private name/],
    ['https://LOCALHOST./hook', /local or private name/],
    ['https://api.localhost/hook', /local or private name/],
    ['https://metadata.google.internal/', /local or private name/],
    ['https://ip-10-0-0-1.ec2.internal/', /local or private name/],
    ['https://printer.local/', /local or private name/],
    ['https://router.home.arpa/', /local or private name/],
    ['https://intranet/hook', /not a fully qualified domain name/],
  ])('refuses %s on a deployed stack', (url, problem) => {
    expect(webhookUrlProblem(url, 'aws')).toMatch(problem);
  });

  it.each([
    ['hooks.example.com/x', 'must be an absolute http(s) URL'],
    ['/relative', 'must be an absolute http(s) URL'],
    ['https://user:pass@hooks.example.com/', 'must not contain credentials'],
    ['https://token@hooks.example.com/', 'must not contain credentials'],
    ['https://hooks.example.com/#frag', 'must not contain a fragment'],
    ['https://hooks.example.com/#', 'must not contain a fragment'],
    [' https://hooks.example.com/', 'must not contain spaces or control characters'],
    ['https://hooks.example.com/\ta', 'must not contain spaces or control characters'],
    [`https://hooks.example.com/${'a'.repeat(2048)}`, 'must be at most 2048 characters'],
  ])('refuses %j everywhere', (url, problem) => {
    expect(webhookUrlProblem(url, 'aws')).toBe(problem);
    expect(webhookUrlProblem(url, 'local')).toBe(problem);
  });

  it('never repeats the URL, whose query may hold the receiver’s token', () => {
    const problem = webhookUrlProblem('http://hooks.example.com/x?token=s3cr3t-value', 'aws');
    expect(problem).not.toContain('s3cr3t');
  });
});

describe('isAddressAllowed on a deployed stack', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'instance metadata'],
    ['169.254.170.2', 'container credentials'],
    ['100.64.0.1', 'CGNAT'],
    ['100.127.255.255', 'CGNAT'],
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['224.0.0.251', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.10', 'documentation'],
    ['198.18.0.1', 'benchmarking'],
    ['::1', 'IPv6 loopback'],
    ['::', 'IPv6 unspecified'],
    ['fe80::1', 'IPv6 link-local'],
    ['fe80::1%eth0', 'IPv6 link-local with a zone'],
    ['fc00::1', 'unique-local'],
    ['fd00:ec2::254', 'instance metadata over IPv6'],
    ['fec0::1', 'deprecated site-local'],
    ['ff02::1', 'IPv6 multicast'],
    ['2001:db8::1', 'IPv6 documentation'],
    ['100::1', 'discard'],
    ['4000::1', 'outside global unicast'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback, hex'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
    ['::7f00:1', 'IPv4-compatible loopback'],
    ['::a00:1', 'IPv4-compatible private'],
    ['::ffff:0:a00:1', 'IPv4-translated private (RFC 6145)'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 of the metadata address'],
    ['64:ff9b::10.0.0.1', 'NAT64 of a private address'],
    ['64:ff9b:1::a00:1', 'local-use NAT64'],
    ['2002:7f00:1::1', '6to4 of loopback'],
    ['2002:a9fe:a9fe::1', '6to4 of the metadata address'],
    // Teredo: server 65.54.227.120 in clear, client 127.0.0.1 inverted.
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'Teredo with a loopback client'],
    ['2001:0:a00:1:8000:63bf:f7f7:f7f7', 'Teredo with a private server'],
  ])('refuses %s (%s)', (address) => {
    expect(isAddressAllowed(address, 'aws')).toBe(false);
  });

  it.each([
    '8.8.8.8',
    '93.184.215.14',
    '1.1.1.1',
    '2606:4700:4700::1111',
    '2a00:1450:4001:80e::200e',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
    '2001:0:4136:e378:8000:63bf:f7f7:f7f7',
  ])('allows the public address %s', (address) => {
    expect(isAddressAllowed(address, 'aws')).toBe(true);
  });

  it('refuses what is not an address in the form a resolver returns', () => {
    for (const text of ['hooks.example.com', '127.1', '010.0.0.1', '0x7f000001', '', '1.2.3.4.5']) {
      expect(isAddressAllowed(text, 'aws')).toBe(false);
    }
  });
});

describe('isAddressAllowed on the local stack', () => {
  it('allows any address, loopback and private included', () => {
    for (const address of ['127.0.0.1', '::1', '10.0.0.1', '169.254.169.254', '8.8.8.8']) {
      expect(isAddressAllowed(address, 'local')).toBe(true);
    }
  });

  it('still wants an address', () => {
    expect(isAddressAllowed('localhost', 'local')).toBe(false);
  });
});
