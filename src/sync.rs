//! The one way this crate takes a lock: a poisoned mutex (a panic while it was held, contained by its task) still yields its data; a leaf.

use std::sync::{Mutex, MutexGuard};

/// Lock `m`, taking the data of a mutex poisoned by a contained panic: every value guarded here
/// stays valid between statements, so the next user goes on rather than panicking in turn.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_mutex_still_gives_its_data() {
        let m = std::sync::Arc::new(Mutex::new(1));
        let m2 = std::sync::Arc::clone(&m);
        let _ = std::thread::spawn(move || {
            let mut g = m2.lock().unwrap();
            *g = 2;
            panic!("poison it");
        })
        .join();
        assert!(m.is_poisoned());
        *lock(&m) += 1;
        assert_eq!(*lock(&m), 3);
    }
}
