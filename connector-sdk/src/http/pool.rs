//! Requests in parallel: a [`Pool`] of request threads, each taking the most urgent
//! queued request, sending it through the shared [`Client`] (which paces it within the
//! rate limit) and handing the answer back. The thread that owns the pool gets answers in
//! the order they arrive and decides what they mean; it alone writes to stdout, so
//! records and checkpoints stay in one ordered stream.
//!
//! Bounded: at most `threads` requests are in flight, and answers wait in a channel of
//! that size, so memory does not grow however many pages are queued. The queue holds
//! requests (a path and a query), never answers.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use serde_json::Value;

use super::client::{Client, Query, RequestError};

/// One `GET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Path below the API root, e.g. `/incidents`.
    pub path: String,
    /// Query parameters.
    pub query: Query,
}

/// Which queued request goes first: the lowest `class`, then the newest data (the
/// highest `until`), then the lowest `offset`; equal ones in the order queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Priority {
    /// Lower goes first (first pages, whose totals plan the rest, before other pages).
    pub class: u8,
    /// Newer data first: the negated end of the request's time window (seconds).
    pub newest_first: i64,
    /// Earlier pages first.
    pub offset: u64,
}

struct Entry<T> {
    key: Reverse<(Priority, u64)>,
    request: Request,
    tag: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

struct Queue<T> {
    heap: BinaryHeap<Entry<T>>,
    closed: bool,
}

struct Shared<T> {
    queue: Mutex<Queue<T>>,
    ready: Condvar,
}

impl<T> Shared<T> {
    fn queue(&self) -> MutexGuard<'_, Queue<T>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What sends a request for the pool's threads: a [`Client`], or a fake in tests.
pub trait Fetch: Send + Sync + 'static {
    /// What a request comes to.
    type Answer: Send + 'static;
    /// Sends `request` and waits for its answer.
    fn fetch(&self, request: &Request) -> Self::Answer;
}

impl<E: RequestError + Send + 'static> Fetch for Client<E> {
    type Answer = Result<Value, E>;

    fn fetch(&self, request: &Request) -> Self::Answer {
        self.get(&request.path, &request.query)
    }
}

/// An answer: the request's tag and what the client made of it.
pub type Answer<T, A> = (T, A);

/// Request threads sharing one client (`F`, for the [`Fetch`] it is). Dropping the pool
/// closes its queue: threads finish the request they are sending (its answer is dropped)
/// and end.
pub struct Pool<T, F: Fetch> {
    shared: Arc<Shared<T>>,
    answers: Receiver<Answer<T, F::Answer>>,
    /// Requests queued or in flight.
    outstanding: usize,
    queued_total: u64,
}

impl<T: Send + 'static, F: Fetch> Pool<T, F> {
    /// `threads` request threads (at least one) on `client`, named `{name}-{number}`.
    pub fn new(client: Arc<F>, threads: usize, name: &str) -> Self {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue { heap: BinaryHeap::new(), closed: false }),
            ready: Condvar::new(),
        });
        let (sender, answers) = mpsc::sync_channel(threads);
        for number in 0..threads {
            let (shared, sender, client) = (Arc::clone(&shared), sender.clone(), Arc::clone(&client));
            let spawned = std::thread::Builder::new()
                .name(format!("{name}-{number}"))
                .spawn(move || work(&shared, &sender, &*client));
            // A thread that cannot be started leaves the others to do the work; with none
            // at all `next_answer` panics rather than wait forever.
            drop(spawned);
        }
        Pool { shared, answers, outstanding: 0, queued_total: 0 }
    }

    /// Queues a request.
    pub fn push(&mut self, priority: Priority, request: Request, tag: T) {
        let key = Reverse((priority, self.queued_total));
        self.queued_total += 1;
        self.outstanding += 1;
        self.shared.queue().heap.push(Entry { key, request, tag });
        self.shared.ready.notify_one();
    }

    /// Removes the queued requests whose tag `unwanted` picks (requests in flight are
    /// answered as usual) and returns their tags.
    pub fn cancel(&mut self, mut unwanted: impl FnMut(&T) -> bool) -> Vec<T> {
        let mut queue = self.shared.queue();
        let entries = std::mem::take(&mut queue.heap).into_vec();
        let (cancelled, kept): (Vec<_>, Vec<_>) = entries.into_iter().partition(|entry| unwanted(&entry.tag));
        queue.heap = kept.into();
        self.outstanding -= cancelled.len();
        cancelled.into_iter().map(|entry| entry.tag).collect()
    }

    /// Requests queued or in flight.
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// The next answer, in the order they arrive; `None` once nothing is queued or in
    /// flight.
    ///
    /// # Panics
    /// Never in practice: only if every request thread died (they do not panic).
    pub fn next_answer(&mut self) -> Option<Answer<T, F::Answer>> {
        if self.outstanding == 0 {
            return None;
        }
        let answer = self.answers.recv().expect("request threads outlive the pool");
        self.outstanding -= 1;
        Some(answer)
    }
}

impl<T, F: Fetch> Drop for Pool<T, F> {
    fn drop(&mut self) {
        self.shared.queue().closed = true;
        self.shared.ready.notify_all();
    }
}

/// A request thread: take the most urgent request, send it, hand back the answer.
fn work<T, F: Fetch>(shared: &Shared<T>, answers: &SyncSender<Answer<T, F::Answer>>, client: &F) {
    loop {
        let entry = {
            let mut queue = shared.queue();
            loop {
                if queue.closed {
                    return;
                }
                if let Some(entry) = queue.heap.pop() {
                    break entry;
                }
                queue = shared.ready.wait(queue).unwrap_or_else(PoisonError::into_inner);
            }
        };
        let answer = client.fetch(&entry.request);
        if answers.send((entry.tag, answer)).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::convert::Infallible;

    /// A fetcher whose first answer waits until the test says go: once the first request
    /// has arrived, the one request thread is busy with it while the test queues the
    /// rest, so the order of the others is the queue's alone. Every path is kept.
    struct Gated {
        gate: Mutex<mpsc::Receiver<()>>,
        paths: Mutex<Vec<String>>,
    }

    impl Gated {
        fn targets(&self) -> Vec<String> {
            self.paths.lock().unwrap().clone()
        }
    }

    impl Fetch for Gated {
        type Answer = Result<Value, Infallible>;

        fn fetch(&self, request: &Request) -> Self::Answer {
            let number = {
                let mut paths = self.paths.lock().unwrap();
                paths.push(request.path.clone());
                paths.len()
            };
            if number == 1 {
                let _ = self.gate.lock().unwrap().recv();
            }
            Ok(json!({"target": request.path}))
        }
    }

    fn request(path: &str) -> Request {
        Request { path: path.to_owned(), query: Vec::new() }
    }

    fn priority(class: u8, until: i64, offset: u64) -> Priority {
        Priority { class, newest_first: -until, offset }
    }

    fn gated() -> (Arc<Gated>, mpsc::Sender<()>) {
        let (go, gate) = mpsc::channel::<()>();
        (Arc::new(Gated { gate: Mutex::new(gate), paths: Mutex::new(Vec::new()) }), go)
    }

    #[test]
    fn requests_go_out_by_class_then_newest_then_offset_and_every_answer_comes_back() {
        let (fetcher, go) = gated();
        let mut pool = Pool::new(Arc::clone(&fetcher), 1, "test");
        pool.push(priority(2, 0, 0), request("/first"), "/first");
        while fetcher.targets().is_empty() {
            std::thread::yield_now(); // until the thread is busy with the first request
        }
        let queued = [
            ("/older-page", priority(1, 100, 100)),
            ("/newer-second-page", priority(1, 200, 200)),
            ("/newer-first-page", priority(1, 200, 100)),
            ("/probe", priority(0, 50, 0)),
        ];
        for (path, priority) in queued {
            pool.push(priority, request(path), path);
        }
        go.send(()).unwrap();
        let mut answered = Vec::new();
        while let Some((tag, answer)) = pool.next_answer() {
            assert_eq!(answer.unwrap()["target"], tag);
            answered.push(tag);
        }
        assert_eq!(answered, ["/first", "/probe", "/newer-first-page", "/newer-second-page", "/older-page"]);
        assert_eq!(fetcher.targets(), answered);
        assert_eq!(pool.outstanding(), 0);
    }

    #[test]
    fn cancelled_requests_are_never_sent() {
        let (fetcher, go) = gated();
        let mut pool = Pool::new(Arc::clone(&fetcher), 1, "test");
        pool.push(priority(1, 0, 0), request("/page/0"), 0);
        while fetcher.targets().is_empty() {
            std::thread::yield_now(); // until the thread is busy with the first request
        }
        for i in 1..20u64 {
            pool.push(priority(1, 0, i), request(&format!("/page/{i}")), i);
        }
        let mut cancelled = pool.cancel(|&i| i >= 10);
        cancelled.sort_unstable();
        go.send(()).unwrap();
        let mut answered = Vec::new();
        while let Some((i, _)) = pool.next_answer() {
            answered.push(i);
        }
        assert_eq!(cancelled, (10..20).collect::<Vec<_>>());
        assert_eq!(answered, (0..10).collect::<Vec<_>>());
        assert_eq!(fetcher.targets().len(), 10, "cancelled requests never go out");
    }
}
