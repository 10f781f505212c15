import { isIP } from 'node:net';
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

/** An address range: the address's numbers (IPv4 octets or IPv6 hextets) and the prefix length. */
type Range = readonly [base: readonly number[], prefixLength: number];

/**
 * IPv4 ranges that are not global unicast (IANA special-purpose registry, RFC 6890 and later):
 * a public endpoint never has one of these addresses.
 */
const SPECIAL_IPV4: readonly Range[] = [
  [[0, 0, 0, 0], 8], // "this network" and the unspecified address (RFC 1122)
  [[10, 0, 0, 0], 8], // private (RFC 1918)
  [[100, 64, 0, 0], 10], // carrier-grade NAT (RFC 6598)
  [[127, 0, 0, 0], 8], // loopback
  [[169, 254, 0, 0], 16], // link-local, with the 169.254.169.254 metadata service (RFC 3927)
  [[172, 16, 0, 0], 12], // private
  [[192, 0, 0, 0], 24], // IETF protocol assignments (RFC 6890)
  [[192, 0, 2, 0], 24], // documentation (RFC 5737)
  [[192, 31, 196, 0], 24], // AS112 (RFC 7535)
  [[192, 52, 193, 0], 24], // AMT (RFC 7450)
  [[192, 88, 99, 0], 24], // 6to4 relay anycast (RFC 7526)
  [[192, 168, 0, 0], 16], // private
  [[192, 175, 48, 0], 24], // AS112 (RFC 7534)
  [[198, 18, 0, 0], 15], // benchmarking (RFC 2544)
  [[198, 51, 100, 0], 24], // documentation
  [[203, 0, 113, 0], 24], // documentation
  [[224, 0, 0, 0], 4], // multicast (RFC 5771)
  [[240, 0, 0, 0], 4], // reserved, with the limited broadcast 255.255.255.255 (RFC 1112)
];

/** Global unicast (RFC 4291 §2.4): everything a public endpoint can have; the rest is special. */
const GLOBAL_UNICAST: Range = [[0x2000, 0, 0, 0, 0, 0, 0, 0], 3];
/**
 * Global unicast ranges that are special all the same. Outside 2000::/3 lie loopback, unique-local
 * fc00::/7 (with the fd00:ec2::254 metadata service), link-local, site-local, multicast, NAT64 and
 * discard, all refused; 6to4 2002::/16 is judged by the IPv4 address it carries.
 */
const SPECIAL_GLOBAL_IPV6: readonly Range[] = [
  // IETF protocol assignments (RFC 2928): Teredo, benchmarking, AMT, AS112, ORCHID and more.
  [[0x2001, 0, 0, 0, 0, 0, 0, 0], 23],
  [[0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32], // documentation (RFC 3849)
  [[0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48], // AS112 (RFC 7534)
  [[0x3fff, 0, 0, 0, 0, 0, 0, 0], 20], // documentation (RFC 9637)
];

/** IPv6 forms that carry an IPv4 address, which is what a packet to them ends up reaching. */
const NAT64: Range = [[0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96];
const TEREDO: Range = [[0x2001, 0, 0, 0, 0, 0, 0, 0], 32];
const SIX_TO_FOUR: Range = [[0x2002, 0, 0, 0, 0, 0, 0, 0], 16];

/** Whether the address (numbers of `bits` bits each) starts with the range's prefix. */
function inRange(parts: readonly number[], [base, prefixLength]: Range, bits: 8 | 16): boolean {
  for (let i = 0, left = prefixLength; left > 0; i++, left -= bits) {
    const ignored = Math.max(0, bits - left);
    if (parts[i]! >> ignored !== base[i]! >> ignored) return false;
  }
  return true;
}

const ipv4Octets = (address: string) => address.split('.').map(Number);

/**
 * The eight hextets of an address Node's isIP takes as IPv6: a zone (`%eth0`) says which interface,
 * not which address, so it is dropped; a trailing dotted IPv4 part is two hextets.
 */
function ipv6Hextets(address: string): number[] {
  let text = address.split('%')[0]!;
  if (text.includes('.')) {
    const at = text.lastIndexOf(':') + 1;
    const [a, b, c, d] = ipv4Octets(text.slice(at)) as [number, number, number, number];
    text = `${text.slice(0, at)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const hextets = (part: string | undefined) => (part ? part.split(':').map((h) => parseInt(h, 16)) : []);
  const before = hextets(head);
  const after = hextets(tail);
  return [...before, ...Array<number>(8 - before.length - after.length).fill(0), ...after];
}

const ipv4From = (high: number, low: number) => [high >> 8, high & 0xff, low >> 8, low & 0xff];

/** The IPv4 addresses an IPv6 address embeds (mapped, translated, compatible, NAT64, 6to4, Teredo). */
function embeddedIpv4(p: readonly number[]): number[][] | undefined {
  const lastTwo = () => ipv4From(p[6]!, p[7]!);
  const zeros = (from: number, to: number) => p.slice(from, to).every((part) => part === 0);
  // ::ffff:a.b.c.d (mapped), ::ffff:0:a.b.c.d (translated, RFC 6145), ::a.b.c.d (compatible).
  if (zeros(0, 5) && (p[5] === 0xffff || p[5] === 0)) return [lastTwo()];
  if (zeros(0, 4) && p[4] === 0xffff && p[5] === 0) return [lastTwo()];
  if (inRange(p, NAT64, 16)) return [lastTwo()];
  if (inRange(p, SIX_TO_FOUR, 16)) return [ipv4From(p[1]!, p[2]!)];
  // Teredo: the server's address in clear, the client's inverted.
  if (inRange(p, TEREDO, 16)) return [ipv4From(p[2]!, p[3]!), ipv4From(p[6]! ^ 0xffff, p[7]! ^ 0xffff)];
  return undefined;
}

/**
 * Only global unicast: loopback, private (RFC 1918), link-local (and so the 169.254.169.254
 * metadata service), CGNAT 100.64/10, unspecified, multicast, broadcast, documentation,
 * benchmarking and other reserved ranges are refused.
 */
const ipv4Allowed = (octets: readonly number[]) => !SPECIAL_IPV4.some((range) => inRange(octets, range, 8));

function ipv6Allowed(hextets: readonly number[]): boolean {
  const embedded = embeddedIpv4(hextets);
  // `::` and `::1` look like compatible addresses but are unspecified and loopback.
  const unspecifiedOrLoopback = hextets.slice(0, 7).every((h) => h === 0) && hextets[7]! <= 1;
  if (embedded && !unspecifiedOrLoopback) return embedded.every(ipv4Allowed);
  return (
    inRange(hextets, GLOBAL_UNICAST, 16) && !SPECIAL_GLOBAL_IPV6.some((range) => inRange(hextets, range, 16))
  );
}

/**
 * Whether a resolved address may be connected to. On 'local' any address; on 'aws' only globally
 * routable unicast, with IPv4 addresses wrapped in IPv6 judged by the IPv4 address inside. Only
 * the canonical textual forms a resolver returns are accepted: `010.0.0.1` means 8.0.0.1 to some
 * parsers and 10.0.0.1 to others, so anything Node itself would not take as an IP is refused.
 */
export function isAddressAllowed(address: string, deployment: Deployment): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  if (deployment === 'local') return true;
  return family === 4 ? ipv4Allowed(ipv4Octets(address)) : ipv6Allowed(ipv6Hextets(address));
}
