#!/usr/bin/env node
// Signs a message offline with tron's signed-message scheme, exactly as TronWeb's
// signMessageV2 does ("\x19TRON Signed Message:\n" + byte length + message, keccak-256,
// secp256k1, 65-byte r||s||v), and prints the key's tron address with the signature:
//   node infra/devnet/tron-sign.js <private-key-hex> <message>
//   -> {"address":"T…","signature":"0x…"}
// The tests use it as an independent implementation of the scheme the service verifies.
'use strict';

const [privateKey, message] = process.argv.slice(2);
if (!privateKey || message === undefined) {
  console.error('usage: node tron-sign.js <private-key-hex> <message>');
  process.exit(2);
}
// TronWeb logs deprecation notes on stdout in some versions: keep stdout for the answer only.
const log = console.log;
console.log = (...args) => console.error(...args);
const { TronWeb, Trx } = require('tronweb');
const key = privateKey.replace(/^0x/, '');
const signature = Trx.signMessageV2(message, key);
const address = TronWeb.address.fromPrivateKey(key);
log(JSON.stringify({ address, signature }));
