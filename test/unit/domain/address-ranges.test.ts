import { isIP } from 'node:net';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { isAddressAllowed } from '../../../lambdas/domain/webhook-url.js';

/**
 * The same judgement made with ipaddr.js's classification of special ranges, the reference the
 * address check is held to: only unicast, with the IPv4 address inside mapped, translated,
 * compatible, NAT64, 6to4 and Teredo addresses judged instead.
 */
function referenceAllowed(address: string): boolean {
  const parsed = ipaddr.parse(address);
  if (parsed instanceof ipaddr.IPv4) return parsed.range() === 'unicast';
  const p = (parsed as ipaddr.IPv6).parts;
  const v4 = (high: number, low: number) => new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
  const within = (cidr: string) => parsed.match(ipaddr.IPv6.parseCIDR(cidr));
  const zeros = (from: number, to: number) => p.slice(from, to).every((h) => h === 0);
  let embedded: ipaddr.IPv4[] | undefined;
  if (zeros(0, 5) && (p[5] === 0xffff || p[5] === 0)) embedded = [v4(p[6]!, p[7]!)];
  else if (zeros(0, 4) && p[4] === 0xffff && p[5] === 0) embedded = [v4(p[6]!, p[7]!)];
  else if (within('64:ff9b::/96')) embedded = [v4(p[6]!, p[7]!)];
  else if (within('2002::/16')) embedded = [v4(p[1]!, p[2]!)];
  else if (within('2001::/32')) embedded = [v4(p[2]!, p[3]!), v4(p[6]! ^ 0xffff, p[7]! ^ 0xffff)];
  const range = parsed.range();
  if (embedded && range !== 'unspecified' && range !== 'loopback') {
    return embedded.every((a) => a.range() === 'unicast');
  }
  return within('2000::/3') && range === 'unicast';
}

type SpecialRange = [ipaddr.IPv4 | ipaddr.IPv6, number];
/** The reference's own range tables: a range is one [address, prefix] pair or a list of them. */
function specialRanges(kind: typeof ipaddr.IPv4 | typeof ipaddr.IPv6): SpecialRange[] {
  const table = (kind.prototype as unknown as { SpecialRanges: Record<string, unknown[]> }).SpecialRanges;
  return Object.values(table).flatMap((r) => (Array.isArray(r[0]) ? r : [r]) as SpecialRange[]);
}
// Global unicast itself and the embedded-address forms are edges too.
const IPV4_RANGES = specialRanges(ipaddr.IPv4);
const IPV6_RANGES = [...specialRanges(ipaddr.IPv6), ipaddr.IPv6.parseCIDR('2000::/3')];

const toBigInt = (bytes: number[]) => bytes.reduce((n, b) => (n << 8n) | BigInt(b), 0n);
/**
 * An address near a range: inside it (the prefix kept, the rest random) or just outside it (the
 * prefix's last bit flipped), so every boundary of every range is crossed.
 */
const nearRange = (ranges: SpecialRange[], bits: number) =>
  fc
    .tuple(fc.constantFrom(...ranges), fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n }), fc.boolean())
    .map(([[base, prefix], random, flip]) => {
      const hostBits = BigInt(bits - prefix);
      const hostMask = (1n << hostBits) - 1n;
      const inside = (toBigInt(base.toByteArray()) & ~hostMask) | (random & hostMask);
      return flip && prefix > 0 ? inside ^ (1n << hostBits) : inside;
    });
const anyValue = (bits: number) => fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });

const ipv4 = fc.oneof(nearRange(IPV4_RANGES, 32), anyValue(32)).map((n) => {
  const octets = [24n, 16n, 8n, 0n].map((shift) => Number((n >> shift) & 0xffn));
  return octets.join('.');
});

/** An IPv6 address in the forms a resolver or a URL may give: full, compressed, dotted tail, zoned. */
const ipv6 = fc
  .tuple(
    fc.oneof(nearRange(IPV6_RANGES, 128), anyValue(128)),
    fc.constantFrom('full', 'compressed', 'dotted'),
    fc.boolean(),
  )
  .map(([n, form, zoned]) => {
    const h = [...Array(8).keys()].map((i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn));
    const full = h.map((x) => x.toString(16)).join(':');
    const dotted = `${h
      .slice(0, 6)
      .map((x) => x.toString(16))
      .join(':')}:${[h[6]! >> 8, h[6]! & 0xff, h[7]! >> 8, h[7]! & 0xff].join('.')}`;
    const text = { full, compressed: new URL(`http://[${full}]/`).hostname.slice(1, -1), dotted }[form];
    return zoned ? `${text}%eth0` : text;
  });

describe('isAddressAllowed against the reference classification', () => {
  it('judges every IPv4 address alike', () => {
    fc.assert(
      fc.property(ipv4, (address) => {
        expect(isAddressAllowed(address, 'aws')).toBe(referenceAllowed(address));
      }),
      { numRuns: 20_000 },
    );
  });

  it('judges every IPv6 address alike, whatever its textual form', () => {
    fc.assert(
      fc.property(ipv6, (address) => {
        expect(isIP(address)).toBe(6);
        expect(isAddressAllowed(address, 'aws')).toBe(referenceAllowed(address));
      }),
      { numRuns: 20_000 },
    );
  });
});
