import { isIPv4, isIPv6 } from 'node:net';

/** Network address of `address/prefix` in CIDR form, e.g. `10.170.15.229/20` → `10.170.0.0/20`. */
export function subnetCidr(address: string, prefixLength: number): string {
  if (isIPv4(address)) {
    const value = address.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
    return `${bigintToIPv4(maskBits(value, prefixLength, 32))}/${prefixLength}`;
  }
  if (isIPv6(address)) {
    return `${bigintToIPv6(maskBits(ipv6ToBigint(address), prefixLength, 128))}/${prefixLength}`;
  }
  throw new TypeError(`not an IP address: ${address}`);
}

function maskBits(value: bigint, prefixLength: number, width: number): bigint {
  if (prefixLength < 0 || prefixLength > width) throw new RangeError(`prefix ${prefixLength} out of range`);
  const hostBits = BigInt(width - prefixLength);
  return (value >> hostBits) << hostBits;
}

function bigintToIPv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

export function ipv6ToBigint(address: string): bigint {
  let text = address;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const octets = text.slice(lastColon + 1).split('.').map(Number);
    tail = [(octets[0] << 8) | octets[1], (octets[2] << 8) | octets[3]];
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const [head, rest] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const restGroups = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const missing = 8 - headGroups.length - restGroups.length;
  const groups = rest === undefined ? headGroups : [...headGroups, ...Array(missing).fill('0'), ...restGroups];
  const words = groups.map((g) => parseInt(g, 16));
  if (tail.length) words.splice(6, 2, ...tail);
  return words.reduce((acc, word) => (acc << 16n) | BigInt(word), 0n);
}

/** RFC 5952 text: lower case, longest run of zero groups (≥ 2) compressed. */
export function bigintToIPv6(value: bigint): string {
  const words: number[] = [];
  for (let i = 7; i >= 0; i--) words.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** IPv4 dotted quad from 4 network-order bytes. */
export function ipv4FromBytes(bytes: Uint8Array): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/** IPv6 text from 16 network-order bytes. */
export function ipv6FromBytes(bytes: Uint8Array): string {
  let value = 0n;
  for (let i = 0; i < 16; i++) value = (value << 8n) | BigInt(bytes[i]);
  return bigintToIPv6(value);
}

/** `aa:bb:cc:dd:ee:ff`, or null for an empty or all-zero address. */
export function macFromBytes(bytes: Uint8Array): string | null {
  if (bytes.length === 0 || bytes.every((b) => b === 0)) return null;
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':');
}
