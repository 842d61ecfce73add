//! Which paths lie inside which others (a volume's mountpoint inside another's, an export
//! inside another export). Sorted by components, every path is followed directly by the
//! paths inside it, so one pass with a stack of the open ancestors finds every nested pair in
//! O(n log n) plus the pairs found, instead of comparing every pair.

use std::path::Path;

/// Every `(outer, inner)` pair of indexes into `paths` where `paths[inner]` lies strictly
/// inside `paths[outer]` (by whole components: `/srv/ab` is not inside `/srv/a`; equal paths,
/// `/srv/a/` and `/srv/a` included, are not nested). Ordered by `outer`, then `inner`.
pub fn nested_pairs(paths: &[&Path]) -> Vec<(usize, usize)> {
    let mut order: Vec<usize> = (0..paths.len()).collect();
    // `Path`'s order compares components, so `/srv/a/x` sorts before `/srv/ab`.
    order.sort_by(|&a, &b| paths[a].cmp(paths[b]));
    let mut open: Vec<usize> = Vec::new();
    let mut pairs = Vec::new();
    for i in order {
        while open
            .last()
            .is_some_and(|&o| !paths[i].starts_with(paths[o]))
        {
            open.pop();
        }
        pairs.extend(
            open.iter()
                .filter(|&&o| paths[o] != paths[i])
                .map(|&o| (o, i)),
        );
        open.push(i);
    }
    pairs.sort_unstable();
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[&str]) -> Vec<(usize, usize)> {
        let paths: Vec<&Path> = list.iter().map(Path::new).collect();
        nested_pairs(&paths)
    }

    #[test]
    fn nested_paths_are_found_at_any_depth() {
        assert_eq!(
            pairs(&["/srv/a/b/c", "/srv/a", "/srv/a/b"]),
            [(1, 0), (1, 2), (2, 0)]
        );
    }

    #[test]
    fn siblings_with_a_common_string_prefix_are_not_nested() {
        assert_eq!(pairs(&["/srv/a", "/srv/ab", "/srv/a-b", "/srv/a.b"]), []);
        // …even with a nested path between them in sorted order.
        assert_eq!(pairs(&["/srv/ab", "/srv/a/x", "/srv/a"]), [(2, 1)]);
    }

    #[test]
    fn trailing_slashes_and_equal_paths_are_not_nested() {
        assert_eq!(pairs(&["/srv/a/", "/srv/a", "/srv/a"]), []);
        assert_eq!(pairs(&["/srv/a/", "/srv/a/b/", "/srv/a"]), [(0, 1), (2, 1)]);
    }

    #[test]
    fn the_root_holds_everything() {
        assert_eq!(pairs(&["/srv", "/", "/srv/x"]), [(0, 2), (1, 0), (1, 2)]);
    }
}
