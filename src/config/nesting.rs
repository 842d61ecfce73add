//! Which paths lie inside which others (a volume's mountpoint inside another's, an export
//! inside another export, the mounts and exports under each volume). Sorted by components,
//! every path is followed directly by the paths inside it: one pass with a stack of the open
//! ancestors finds every nested pair, and a binary search finds the paths under a given one,
//! in O(n log n) plus the answers instead of comparing every pair.

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

/// Paths sorted once, to answer "which of them are at or under this path" in O(log n) plus
/// the answers.
pub struct Under<'a> {
    sorted: Vec<(&'a Path, usize)>,
}

impl<'a> Under<'a> {
    /// The index of each path is its position in `paths`.
    pub fn new(paths: impl IntoIterator<Item = &'a Path>) -> Under<'a> {
        let mut sorted: Vec<(&Path, usize)> = paths.into_iter().zip(0..).collect();
        sorted.sort_unstable();
        Under { sorted }
    }

    /// The indexes of the paths equal to `top` or inside it, in increasing order.
    pub fn of(&self, top: &Path) -> Vec<usize> {
        let first = self.sorted.partition_point(|(p, _)| *p < top);
        let mut out: Vec<usize> = self.sorted[first..]
            .iter()
            .take_while(|(p, _)| p.starts_with(top))
            .map(|(_, i)| *i)
            .collect();
        out.sort_unstable();
        out
    }
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
    fn under_finds_the_path_itself_and_what_is_inside_it() {
        let list = [
            "/srv/ab",
            "/srv/a/x",
            "/srv/a",
            "/srv/a/",
            "/srv",
            "/srv/a-b/c",
            "/srv/a/x/y",
        ];
        let u = Under::new(list.iter().map(Path::new));
        assert_eq!(u.of(Path::new("/srv/a")), [1, 2, 3, 6]);
        assert_eq!(u.of(Path::new("/srv/a/")), [1, 2, 3, 6]);
        assert_eq!(u.of(Path::new("/srv/a/x")), [1, 6]);
        assert_eq!(u.of(Path::new("/srv/b")), Vec::<usize>::new());
        assert_eq!(u.of(Path::new("/")).len(), list.len());
    }

    #[test]
    fn the_root_holds_everything() {
        assert_eq!(pairs(&["/srv", "/", "/srv/x"]), [(0, 2), (1, 0), (1, 2)]);
    }
}
