// Compile the test token with solc's JS API (the solcjs CLI has no
// --evm-version) and write build/TestUSDT.json: { abi, bytecode }.
// Usage: node compile.js [outDir]
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const EVM_VERSION = "shanghai";
const SOURCE = "TestUSDT.sol";

function compile() {
  const input = {
    language: "Solidity",
    sources: { [SOURCE]: { content: fs.readFileSync(path.join(__dirname, SOURCE), "utf8") } },
    settings: {
      evmVersion: EVM_VERSION,
      optimizer: { enabled: true, runs: 200 },
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  if (errors.length > 0) {
    for (const e of errors) console.error(e.formattedMessage);
    process.exit(1);
  }
  const contract = output.contracts[SOURCE].TestUSDT;
  return { abi: contract.abi, bytecode: "0x" + contract.evm.bytecode.object, evmVersion: EVM_VERSION };
}

const outDir = process.argv[2] || path.join(__dirname, "build");
fs.mkdirSync(outDir, { recursive: true });
const target = path.join(outDir, "TestUSDT.json");
fs.writeFileSync(target, JSON.stringify(compile(), null, 2));
console.log(`compiled ${SOURCE} (solc ${solc.version()}, evm ${EVM_VERSION}) -> ${target}`);
