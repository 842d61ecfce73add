//! In-process work shared out over the CPUs: reading and checking thousands of small files
//! is mostly system calls and parsing, each file independent of the others.

use std::io::Read;
use std::path::Path;

/// Below this many items a second thread costs more than it saves.
const MIN_PER_THREAD: usize = 64;

/// `f` applied to every item, on as many threads as there are CPUs, results in the items'
/// order. Each thread takes one contiguous slice, so the results need no sorting.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cpus.min(items.len() / MIN_PER_THREAD).max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|sc| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| sc.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

/// A small file's text, read in a plain loop of `read` calls into a buffer each thread keeps:
/// `std::fs::read_to_string` first asks the file's size (`statx`, `lseek`) and allocates per
/// file, which matters at thousands of files.
pub fn read_small(path: &Path) -> std::io::Result<String> {
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let mut f = std::fs::File::open(path)?;
    BUF.with_borrow_mut(|buf| {
        if buf.is_empty() {
            buf.resize(16 * 1024, 0);
        }
        let mut len = 0;
        loop {
            if len == buf.len() {
                buf.resize(len * 2, 0);
            }
            match f.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        std::str::from_utf8(&buf[..len])
            .map(str::to_owned)
            .map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "stream did not contain valid UTF-8",
                )
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order() {
        for n in [0, 1, 63, 64, 129, 1000] {
            let items: Vec<usize> = (0..n).collect();
            let out = map(&items, |x| x * 2);
            assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>(), "{n}");
        }
    }

    #[test]
    fn reads_a_file_larger_than_the_first_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let text = "é".repeat(20_000);
        std::fs::write(&p, &text).unwrap();
        assert_eq!(read_small(&p).unwrap(), text);
        std::fs::write(&p, b"\xff").unwrap();
        assert_eq!(
            read_small(&p).unwrap_err().kind(),
            std::io::ErrorKind::InvalidData
        );
    }
}
