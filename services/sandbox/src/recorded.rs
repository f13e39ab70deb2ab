//! What a sandbox accepted, kept for tests to read (the newest, up to a bound).

use std::collections::VecDeque;
use std::sync::Mutex;

/// Deliveries kept per sandbox: a 100,000-device benchmark fits.
const MAX_KEPT: usize = 200_000;

pub struct Recorded<T>(Mutex<VecDeque<T>>);

impl<T> Default for Recorded<T> {
    fn default() -> Self {
        Self(Mutex::default())
    }
}

impl<T: Clone> Recorded<T> {
    pub fn push(&self, item: T) {
        let mut items = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if items.len() >= MAX_KEPT {
            items.pop_front();
        }
        items.push_back(item);
    }

    /// The items `keep` accepts, oldest first.
    pub fn matching(&self, keep: impl Fn(&T) -> bool) -> Vec<T> {
        let items = self.0.lock().unwrap_or_else(|p| p.into_inner());
        items.iter().filter(|item| keep(item)).cloned().collect()
    }

    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}
