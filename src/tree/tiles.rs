//! How the tree lies on disk (docs/FORMAT.md, "The tree files"): in `LEDGER/tree/`, one file per
//! C2SP tlog-tiles level holding that level's tiles end to end (tile `tile/<L>/<N>`, full or
//! partial, is bytes `N * 8192` onwards of level `L`'s file).
//!
//! It owns the names and the layout arithmetic; it never reads or writes a file
//! ([`super::Tree`] and [`super::audit`] do).

/// The tree's directory beside the log's, inside a ledger directory.
pub const TREE_DIR: &str = "tree";
/// log2 of the hashes per tile: the C2SP tlog-tiles height.
pub const TILE_HEIGHT: u32 = 8;
/// Hashes in a full tile.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;
pub const HASH_LEN: u64 = 32;
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

/// The C2SP path of entry bundle `n` of a log of `size` entries: `tile/entries/<N>`, with
/// `.p/<W>` when it holds fewer than 256 entries.
pub fn bundle_path(n: u64, size: u64) -> String {
    let width = size.saturating_sub(n * TILE_WIDTH).min(TILE_WIDTH);
    let path = format!("tile/entries/{}", tile_index_path(n));
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
}
