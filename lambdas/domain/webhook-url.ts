import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { Deployment } from '../config/env.js';

export type { Deployment };

/**
 * Where a webhook may point. Two checks, because neither is enough alone: at submit the URL is
 * refused when it plainly names something private (a clear 400 beats a delivery that can never
 * succeed), and at delivery every resolved address is checked, since a public-looking name can
 * resolve to anything and can change its answer between submit and delivery. A deployed stack
 * runs next to the account's internal network and the instance metadata service; the local stack
 * posts to the developer's own machine, so it allows everything.
 */

export const MAX_WEBHOOK_URL_LENGTH = 2048;

/**
 * Names that can never reach a client's public endpoint, refused on a deployed stack at submit.
 * `localhost` and `.localhost` are loopback by definition (RFC 6761); `.local` is multicast DNS on
 * the local link (RFC 6762); `.internal` is reserved for private use (ICANN, 2024) and is what AWS
 * (`*.ec2.internal`, `*.compute.internal`) and other clouds (`metadata.google.internal`) name their
 * private hosts with; `.home.arpa` is for home networks (RFC 8375). A name without a dot is
 * completed by the resolver's search domains, so it too names something inside the network.
 * Anything else is left to the delivery-time address check, which is the one that cannot be fooled.
 */
const PRIVATE_NAME_SUFFIXES = ['.localhost', '.local', '.internal', '.home.arpa'];

function privateHostnameProblem(hostname: string): string | undefined {
  const name = hostname.replace(/\.+$/, '');
  if (name === 'localhost' || PRIVATE_NAME_SUFFIXES.some((suffix) => `.${name}`.endsWith(suffix))) {
    return `host ${name} is a local or private name`;
  }
  if (!name.includes('.')) return `host ${name} is not a fully qualified domain name`;
  return undefined;
}

/**
 * Ports a deployed stack posts to: HTTPS's own 443 (which the URL parser writes as no port) and
 * 8443, the usual alternative HTTPS port of receivers behind app servers and gateways. Any other
 * port would let a webhook probe services that are not web endpoints (mail, databases, SSH) on
 * public hosts, with the delivery log as the answer.
 */
export const DEPLOYED_WEBHOOK_PORTS: readonly string[] = ['', '8443'];

const hasSpaceOrControl = (text: string) =>
  Array.from(text).some((c) => c.charCodeAt(0) <= 0x20 || c.charCodeAt(0) === 0x7f);

/** The URL's host as an IP literal (brackets of IPv6 removed), or undefined for a name. */
export function ipLiteralHost(url: URL): string | undefined {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return isIP(host) === 0 ? undefined : host;
}

/**
 * Why a webhook URL is refused at submit, or undefined when it is acceptable. The answer is a
 * sentence for the client's validation error; it never repeats the URL, which may carry a token.
 */
export function webhookUrlProblem(url: string, deployment: Deployment): string | undefined {
  if (url.length > MAX_WEBHOOK_URL_LENGTH) return `must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`;
  // The URL parser silently drops tabs, newlines and edge spaces; a URL with them is a mistake.
  if (hasSpaceOrControl(url)) return 'must not contain spaces or control characters';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be an absolute http(s) URL';
  }
  const allowed = deployment === 'aws' ? ['https:'] : ['https:', 'http:'];
  if (!allowed.includes(parsed.protocol)) {
    return deployment === 'aws' ? 'must use https' : 'must use http or https';
  }
  if (parsed.username !== '' || parsed.password !== '') return 'must not contain credentials';
  if (url.includes('#')) return 'must not contain a fragment';
  if (deployment === 'local') return undefined;
  if (!DEPLOYED_WEBHOOK_PORTS.includes(parsed.port)) return 'must use port 443 or 8443';
  const literal = ipLiteralHost(parsed);
  if (literal !== undefined) {
    return isAddressAllowed(literal, deployment) ? undefined : `address ${literal} is not publicly routable`;
  }
  return privateHostnameProblem(parsed.hostname);
}

/** IPv6 forms that carry an IPv4 address, which is what a packet to them ends up reaching. */
const NAT64 = ipaddr.IPv6.parseCIDR('64:ff9b::/96');
const TEREDO = ipaddr.IPv6.parseCIDR('2001::/32');
const SIX_TO_FOUR = ipaddr.IPv6.parseCIDR('2002::/16');
/** Global unicast (RFC 4291 §2.4): everything a public endpoint can have; the rest is special. */
const GLOBAL_UNICAST = ipaddr.IPv6.parseCIDR('2000::/3');

const ipv4From = (high: number, low: number) =>
  new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);

/** The IPv4 addresses an IPv6 address embeds (mapped, translated, compatible, NAT64, 6to4, Teredo). */
function embeddedIpv4(address: ipaddr.IPv6): ipaddr.IPv4[] | undefined {
  const p = address.parts as [number, number, number, number, number, number, number, number];
  const lastTwo = () => ipv4From(p[6], p[7]);
  const zeros = (from: number, to: number) => p.slice(from, to).every((part) => part === 0);
  // ::ffff:a.b.c.d (mapped), ::ffff:0:a.b.c.d (translated, RFC 6145), ::a.b.c.d (compatible).
  if (zeros(0, 5) && (p[5] === 0xffff || p[5] === 0)) return [lastTwo()];
  if (zeros(0, 4) && p[4] === 0xffff && p[5] === 0) return [lastTwo()];
  if (address.match(NAT64)) return [lastTwo()];
  if (address.match(SIX_TO_FOUR)) return [ipv4From(p[1], p[2])];
  // Teredo: the server's address in clear, the client's inverted.
  if (address.match(TEREDO)) return [ipv4From(p[2], p[3]), ipv4From(p[6] ^ 0xffff, p[7] ^ 0xffff)];
  return undefined;
}

/**
 * Only unicast in ipaddr.js's classification: loopback, private (RFC 1918), link-local (and so the
 * 169.254.169.254 metadata service), CGNAT 100.64/10, unspecified, multicast, broadcast,
 * documentation, benchmarking and other reserved ranges are refused.
 */
const ipv4Allowed = (address: ipaddr.IPv4) => address.range() === 'unicast';

function ipv6Allowed(address: ipaddr.IPv6): boolean {
  const embedded = embeddedIpv4(address);
  // `::` and `::1` look like compatible addresses but are unspecified and loopback.
  if (embedded && address.range() !== 'unspecified' && address.range() !== 'loopback') {
    return embedded.every(ipv4Allowed);
  }
  // Unique-local fc00::/7 (with the fd00:ec2::254 metadata service), link-local, documentation and
  // the rest fall outside 2000::/3 or are classified as special by ipaddr.js.
  return address.match(GLOBAL_UNICAST) && address.range() === 'unicast';
}

/**
 * Whether a resolved address may be connected to. On 'local' any address; on 'aws' only globally
 * routable unicast, with IPv4 addresses wrapped in IPv6 judged by the IPv4 address inside. Only
 * the canonical textual forms a resolver returns are accepted: `010.0.0.1` means 8.0.0.1 to some
 * parsers and 10.0.0.1 to others, so anything Node itself would not take as an IP is refused.
 */
export function isAddressAllowed(address: string, deployment: Deployment): boolean {
  if (isIP(address) === 0) return false;
  if (deployment === 'local') return true;
  const parsed = ipaddr.parse(address);
  return parsed.kind() === 'ipv4' ? ipv4Allowed(parsed as ipaddr.IPv4) : ipv6Allowed(parsed as ipaddr.IPv6);
}
