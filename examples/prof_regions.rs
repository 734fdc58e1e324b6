use ledger::projection::{self, Refresh, Window};
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
fn main() {
    let dir = std::env::args().nth(1).unwrap();
    let n: usize = std::env::args()
        .nth(2)
        .map(|s| s.parse().unwrap())
        .unwrap_or(10);
    let ledger =
        ledger::Ledger::open(std::path::Path::new(&dir), std::time::Duration::ZERO).unwrap();
    let regions = [projection::by_name("regions").unwrap()];
    let mut times = vec![];
    for _ in 0..n {
        let t = std::time::Instant::now();
        let p = projection::project(
            &ledger,
            &regions,
            None,
            &Window::default(),
            Refresh::Rebuild,
        )
        .unwrap();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(!p.tables[0].rows.is_empty());
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("median {:.1} ms, min {:.1}", times[n / 2], times[0]);
}
