//! The BLAKE3 Merkle tree over a segment's rows.
//!
//! * leaf = BLAKE3(`0x00` ‖ canonical row encoding) — see [`crate::encoding`];
//! * node = BLAKE3(`0x01` ‖ left ‖ right);
//! * levels are built left to right, pairing neighbours; an unpaired last node is carried up
//!   to the next level unchanged; the root is the single node left. Zero rows → all-zero root.
//!
//! [`merkle_root`] is the level-by-level definition (used as the oracle in tests and by
//! erasure, which needs individual leaves). [`MerkleBuilder`] computes the same root in a
//! streaming way with O(log n) memory, so the writer never keeps a segment's leaves.

use crate::digest::Digest;

/// Domain byte of a leaf hash input.
pub const LEAF_PREFIX: u8 = 0x00;
/// Domain byte of an inner node hash input.
pub const NODE_PREFIX: u8 = 0x01;

/// node = BLAKE3(0x01 ‖ left ‖ right).
#[inline]
pub fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut input = [0u8; 65];
    input[0] = NODE_PREFIX;
    input[1..33].copy_from_slice(left);
    input[33..].copy_from_slice(right);
    *blake3::hash(&input).as_bytes()
}

/// The root over `leaves`, level by level (the normative definition).
pub fn merkle_root(leaves: &[[u8; 32]]) -> Digest {
    if leaves.is_empty() {
        return Digest::ZERO;
    }
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        let next = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => node_hash(l, r),
                // An unpaired last node is carried up unchanged.
                _ => pair[0],
            })
            .collect();
        level = next;
    }
    Digest(level[0])
}

/// Streaming Merkle root: push leaves in row order, then [`finish`](Self::finish).
///
/// Keeps one perfect subtree per set bit of the leaf count (a binary counter). Because the
/// level-by-level tree pairs from the left and carries the unpaired last node up unchanged,
/// its root equals folding the remaining subtrees from the right:
/// `node(s0, node(s1, … node(s_{k-1}, s_k)))`, largest (leftmost) first.
#[derive(Debug, Clone, Default)]
pub struct MerkleBuilder {
    /// (height, root of a perfect subtree of 2^height leaves), heights strictly decreasing.
    stack: Vec<(u32, [u8; 32])>,
    leaves: u64,
}

impl MerkleBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next leaf hash.
    #[inline]
    pub fn push(&mut self, leaf: [u8; 32]) {
        let mut node = leaf;
        let mut height = 0;
        while let Some(&(h, left)) = self.stack.last() {
            if h != height {
                break;
            }
            self.stack.pop();
            node = node_hash(&left, &node);
            height += 1;
        }
        self.stack.push((height, node));
        self.leaves += 1;
    }

    /// Number of leaves pushed.
    pub fn len(&self) -> u64 {
        self.leaves
    }

    /// Whether no leaf was pushed.
    pub fn is_empty(&self) -> bool {
        self.leaves == 0
    }

    /// The root over all pushed leaves.
    pub fn finish(mut self) -> Digest {
        let Some((_, mut acc)) = self.stack.pop() else {
            return Digest::ZERO;
        };
        while let Some((_, left)) = self.stack.pop() {
            acc = node_hash(&left, &acc);
        }
        Digest(acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<[u8; 32]> {
        (0..n as u64)
            .map(|i| *blake3::hash(&i.to_le_bytes()).as_bytes())
            .collect()
    }

    #[test]
    fn streaming_equals_level_by_level() {
        for n in 0..=300 {
            let ls = leaves(n);
            let mut b = MerkleBuilder::new();
            for l in &ls {
                b.push(*l);
            }
            assert_eq!(b.len(), n as u64);
            assert_eq!(b.finish(), merkle_root(&ls), "n = {n}");
        }
    }

    #[test]
    fn small_trees_by_hand() {
        let ls = leaves(3);
        assert_eq!(merkle_root(&ls[..1]), Digest(ls[0]));
        let h01 = node_hash(&ls[0], &ls[1]);
        assert_eq!(merkle_root(&ls[..2]), Digest(h01));
        // The third leaf is carried up unchanged, then paired with h01.
        assert_eq!(merkle_root(&ls), Digest(node_hash(&h01, &ls[2])));
        assert_eq!(merkle_root(&[]), Digest::ZERO);
    }

    #[test]
    fn order_matters() {
        let mut ls = leaves(4);
        let a = merkle_root(&ls);
        ls.swap(1, 2);
        assert_ne!(a, merkle_root(&ls));
    }
}
