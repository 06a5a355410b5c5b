import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cidrContainsIP, formatCidr, parseCidr, parseIPv4, subtractCidrs } from './ipv4.js';

const c = (s: string) => parseCidr(s)!;

test('parses addresses and CIDRs, clearing host bits', () => {
  assert.equal(parseIPv4('10.99.7.3'), 0x0a630703);
  assert.equal(parseIPv4('256.1.1.1'), undefined);
  assert.equal(parseIPv4('fd00::1'), undefined);
  assert.equal(formatCidr(c('10.1.2.3/16')), '10.1.0.0/16');
  assert.equal(formatCidr(c('10.1.2.3')), '10.1.2.3/32');
  assert.equal(formatCidr(c('0.0.0.0/0')), '0.0.0.0/0');
  assert.equal(parseCidr('10.0.0.0/33'), undefined);
  assert.equal(parseCidr('10.0.0.0/8/1'), undefined);
  assert.ok(cidrContainsIP(c('10.0.0.0/8'), parseIPv4('10.200.1.1')!));
  assert.ok(!cidrContainsIP(c('10.0.0.0/8'), parseIPv4('11.0.0.1')!));
});

test('subtracting CIDRs leaves disjoint prefixes covering exactly the rest', () => {
  assert.deepEqual(subtractCidrs(c('10.99.7.0/24'), [c('10.99.7.2/32')]).map(formatCidr), [
    '10.99.7.0/31',
    '10.99.7.3/32',
    '10.99.7.4/30',
    '10.99.7.8/29',
    '10.99.7.16/28',
    '10.99.7.32/27',
    '10.99.7.64/26',
    '10.99.7.128/25',
  ]);
  assert.deepEqual(subtractCidrs(c('10.0.0.0/8'), [c('0.0.0.0/0')]), []);
  assert.deepEqual(subtractCidrs(c('10.0.0.0/8'), [c('192.168.0.0/16')]).map(formatCidr), ['10.0.0.0/8']);
  // Every address of the block is either in the result or in an exception, never both.
  const block = c('172.16.0.0/28');
  const except = [c('172.16.0.4/30'), c('172.16.0.9/32')];
  const rest = subtractCidrs(block, except);
  for (let i = 0; i < 16; i++) {
    const ip = block.base + i;
    const excepted = except.some((e) => cidrContainsIP(e, ip));
    assert.equal(rest.filter((r) => cidrContainsIP(r, ip)).length, excepted ? 0 : 1, `address .${i}`);
  }
});
