//! One connection shared by the threads of one process that write the database at once (a
//! streamed fetch's registration and its result writer), taken in turns.
//!
//! Policy: such threads share one connection, so neither finds the other's commit has
//! emptied its page cache (SQLite drops a connection's cache whenever another connection
//! wrote), and neither meets SQLite's lock, whose busy handler sleeps (1, 2, 5, 10 ms and more)
//! would stall the result writer and every request queued behind it. They take turns, first
//! come first served (a plain mutex lets the busy writer take it back again and again before a
//! woken waiter runs), each for one transaction only (the rows are read before it), so
//! neither waits longer than the other's one commit.

use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex, MutexGuard};

/// A value taken in turns.
pub(crate) struct Turns<T> {
    /// Tickets handed out, and the ticket being served.
    tickets: Mutex<(u64, u64)>,
    next: Condvar,
    value: Mutex<T>,
}

/// A turn with the value; the next ticket's comes when it is dropped.
pub(crate) struct Turn<'a, T> {
    turns: &'a Turns<T>,
    value: Option<MutexGuard<'a, T>>,
}

impl<T> Turns<T> {
    pub(crate) fn new(value: T) -> Turns<T> {
        Turns {
            tickets: Mutex::new((0, 0)),
            next: Condvar::new(),
            value: Mutex::new(value),
        }
    }

    /// Waits for this caller's turn (first come, first served).
    pub(crate) fn take(&self) -> Turn<'_, T> {
        let mut tickets = self.tickets.lock().unwrap_or_else(|p| p.into_inner());
        let mine = tickets.0;
        tickets.0 += 1;
        while tickets.1 != mine {
            tickets = self.next.wait(tickets).unwrap_or_else(|p| p.into_inner());
        }
        drop(tickets);
        Turn {
            turns: self,
            value: Some(self.value.lock().unwrap_or_else(|p| p.into_inner())),
        }
    }
}

impl<T> Deref for Turn<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value
            .as_deref()
            .unwrap_or_else(|| unreachable!("held until dropped"))
    }
}

impl<T> DerefMut for Turn<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value
            .as_deref_mut()
            .unwrap_or_else(|| unreachable!("held until dropped"))
    }
}

impl<T> Drop for Turn<'_, T> {
    fn drop(&mut self) {
        self.value = None;
        let mut tickets = self.turns.tickets.lock().unwrap_or_else(|p| p.into_inner());
        tickets.1 += 1;
        self.turns.next.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_come_in_the_order_they_were_asked_for() {
        let turns = std::sync::Arc::new(Turns::new(Vec::new()));
        let first = turns.take();
        let waiters: Vec<_> = (0..4)
            .map(|i| {
                let (asked_tx, asked_rx) = std::sync::mpsc::channel();
                let handle = std::thread::spawn({
                    let turns = turns.clone();
                    move || {
                        asked_tx.send(()).unwrap();
                        turns.take().push(i);
                    }
                });
                asked_rx.recv().unwrap();
                // Its ticket is taken once the ticket count moved on.
                while turns.tickets.lock().unwrap().0 < i as u64 + 2 {
                    std::thread::yield_now();
                }
                handle
            })
            .collect();
        drop(first);
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(*turns.take(), vec![0, 1, 2, 3]);
    }
}
