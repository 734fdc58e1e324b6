//! How the tree lies on disk (docs/FORMAT.md, "The tree files"): in `LEDGER/tree/`, one file per
//! C2SP tlog-tiles level holding that level's tiles end to end (tile `tile/<L>/<N>`, full or
//! partial, is bytes `N * 8192` onwards of level `L`'s file), and a head file saying how many
//! leaves the tree holds.
//!
//! It owns the names, the layout arithmetic and the head file's bytes; it never reads or writes
//! a file ([`super::Tree`] and [`super::audit`] do).

/// The tree's directory beside the log's, inside a ledger directory.
pub const TREE_DIR: &str = "tree";
/// log2 of the hashes per tile: the C2SP tlog-tiles height.
pub const TILE_HEIGHT: u32 = 8;
/// Hashes in a full tile.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;
pub const HASH_LEN: u64 = 32;
pub const TREE_HEAD_TAG: &[u8] = b"ledger/tree\0";
pub const TREE_HEAD_VERSION: u8 = 1;
/// The tree head file's length: tag, version, size, check.
pub const TREE_HEAD_LEN: usize = 12 + 1 + 8 + 32;

/// The file of level `level`'s tiles.
pub fn level_file_name(level: u64) -> String {
    format!("level-{level}.tiles")
}

/// How many hashes level `level` holds in a tree of `size` leaves: one per complete subtree of
/// height `8 * level`.
pub fn level_count(size: u64, level: u64) -> u64 {
    u32::try_from(level * u64::from(TILE_HEIGHT))
        .ok()
        .and_then(|shift| size.checked_shr(shift))
        .unwrap_or(0)
}

/// The C2SP path of the tile holding hash `index` of level `level` in a tree of `size`
/// leaves: `tile/<L>/<N>`, with `.p/<W>` when the tile is partial.
pub fn tile_path(level: u64, index: u64, size: u64) -> String {
    let n = index / TILE_WIDTH;
    let width = (level_count(size, level) - n * TILE_WIDTH).min(TILE_WIDTH);
    let path = format!("tile/{level}/{}", tile_index_path(n));
    if width < TILE_WIDTH {
        format!("{path}.p/{width}")
    } else {
        path
    }
}

/// A tile index as C2SP writes it: groups of three digits, all but the last prefixed `x`.
fn tile_index_path(mut n: u64) -> String {
    let mut path = format!("{:03}", n % 1000);
    while n >= 1000 {
        n /= 1000;
        path = format!("x{:03}/{path}", n % 1000);
    }
    path
}

/// The tree head file's bytes for a tree of `size` leaves.
pub fn encode_head(size: u64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(TREE_HEAD_LEN);
    bytes.extend_from_slice(TREE_HEAD_TAG);
    bytes.push(TREE_HEAD_VERSION);
    bytes.extend_from_slice(&size.to_be_bytes());
    let check = blake3::hash(&bytes);
    bytes.extend_from_slice(check.as_bytes());
    bytes
}

/// The size a tree head file gives, or why it cannot be read.
pub fn decode_head(bytes: &[u8]) -> Result<u64, String> {
    if bytes.len() != TREE_HEAD_LEN {
        return Err(format!(
            "it is {} bytes long, not {TREE_HEAD_LEN}",
            bytes.len()
        ));
    }
    let (body, check) = bytes.split_at(TREE_HEAD_LEN - 32);
    if blake3::hash(body).as_bytes() != check {
        return Err("its check hash does not match its contents".into());
    }
    if !body.starts_with(TREE_HEAD_TAG) {
        return Err("it does not start with the tree head tag".into());
    }
    let version = body[TREE_HEAD_TAG.len()];
    if version != TREE_HEAD_VERSION {
        return Err(format!(
            "it has format version {version}, and this build reads version {TREE_HEAD_VERSION}"
        ));
    }
    let mut size = [0; 8];
    size.copy_from_slice(&body[TREE_HEAD_TAG.len() + 1..]);
    Ok(u64::from_be_bytes(size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths_are_c2sp_paths() {
        assert_eq!(tile_path(0, 0, 1), "tile/0/000.p/1");
        assert_eq!(tile_path(0, 255, 256), "tile/0/000");
        assert_eq!(tile_path(1, 0, 256), "tile/1/000.p/1");
        assert_eq!(
            tile_path(0, 1234 * 256, 1234 * 256 + 5),
            "tile/0/x001/234.p/5"
        );
        assert_eq!(
            tile_path(0, 1_234_067 * 256, 1_234_068 * 256),
            "tile/0/x001/x234/067"
        );
        // The layout agrees with tlog_tiles' for every tile of a tree of 70,000 leaves.
        for tile in tlog_tiles::tile::Tile::new_tiles(8, 0, 70_000) {
            let level = u64::from(tile.level());
            let index = tile.level_index() * TILE_WIDTH;
            // tlog_tiles writes the older Go layout, with the height after `tile/`.
            let theirs = tile.path().replacen("tile/8/", "tile/", 1);
            assert_eq!(tile_path(level, index, 70_000), theirs, "{tile:?}");
        }
    }

    #[test]
    fn the_head_round_trips_and_refuses_a_changed_byte() {
        let mut bytes = encode_head(1_000_001);
        assert_eq!(decode_head(&bytes), Ok(1_000_001));
        bytes[15] ^= 1;
        assert!(decode_head(&bytes).unwrap_err().contains("check"));
    }
}
