// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IERC20Transfer {
    function transfer(address to, uint256 amount) external returns (bool);
}

/// A minimal EIP-1271 contract wallet for tests: one owner key; the wallet itself holds tokens and
/// is the `from` of their Transfer logs. `isValidSignature` never reverts on bad input.
contract TestContractWallet {
    bytes4 internal constant MAGIC_VALUE = 0x1626ba7e;
    bytes4 internal constant INVALID = 0xffffffff;

    address public immutable owner;

    constructor(address owner_) {
        owner = owner_;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        if (signature.length != 65) {
            return INVALID;
        }
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (v < 27) {
            v += 27;
        }
        if (v != 27 && v != 28) {
            return INVALID;
        }
        address signer = ecrecover(hash, v, r, s);
        return signer != address(0) && signer == owner ? MAGIC_VALUE : INVALID;
    }

    function transferToken(address token, address to, uint256 amount) external {
        require(msg.sender == owner, "not the owner");
        require(IERC20Transfer(token).transfer(to, amount), "transfer failed");
    }
}
