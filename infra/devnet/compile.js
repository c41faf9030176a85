#!/usr/bin/env node
// Compiles the devnet's contracts with solc-js (offline, from npm) and writes, per contract,
// contracts/<Name>.json = { "abi": [...], "bytecode": "0x..." }:
// TestStablecoin (the 6-decimal test tokens) and TestContractWallet (an EIP-1271 wallet).
// Usage: node infra/devnet/compile.js   (or: npm run compile --prefix infra/devnet)
'use strict';

const fs = require('fs');
const path = require('path');

let solc;
try {
  solc = require('solc');
} catch (e) {
  console.error('compile.js: solc not installed; run `npm ci --prefix infra/devnet` first');
  process.exit(1);
}

const contractsDir = path.join(__dirname, 'contracts');
const contractNames = ['TestStablecoin', 'TestContractWallet'];

const sources = {};
for (const name of contractNames) {
  sources[`${name}.sol`] = { content: fs.readFileSync(path.join(contractsDir, `${name}.sol`), 'utf8') };
}
const input = {
  language: 'Solidity',
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'paris',
    // Keep the bytecode reproducible regardless of the checkout path.
    metadata: { bytecodeHash: 'none' },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === 'error');
for (const e of output.errors || []) {
  console.error(e.formattedMessage || e.message);
}
if (errors.length > 0) {
  console.error(`compile.js: ${errors.length} compilation error(s)`);
  process.exit(1);
}

for (const name of contractNames) {
  const contract = output.contracts[`${name}.sol`][name];
  const artifact = {
    abi: contract.abi,
    bytecode: '0x' + contract.evm.bytecode.object,
  };
  const outFile = path.join(contractsDir, `${name}.json`);
  fs.writeFileSync(outFile, JSON.stringify(artifact, null, 2) + '\n');
  console.log(`compile.js: solc ${solc.version()} -> ${path.relative(process.cwd(), outFile)} (${(artifact.bytecode.length - 2) / 2} bytes)`);
}
