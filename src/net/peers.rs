//! Who holds the listener's connections, and who gives one up when it is full.
//!
//! Every local process can connect, so a flood of sockets that never send a
//! request must not keep the dashboard out. Each peer address has a cap, and the
//! listener as a whole has one; a new connection over a cap is not kept waiting
//! behind the idle ones: the peer's (or, over the total, anyone's) most
//! expendable connection is closed to make room. Most expendable first: an idle
//! connection that never presented a token and has had its chance to (open
//! longer than [`GRACE`]: a held socket, a request head sent slowly), then a
//! newer one without a token (a newcomer whose request, maybe with a token, is
//! still on its way: it is not pushed out by a flood arriving behind it), then
//! an idle one that presented a token, then a busy one without a token (a
//! client that stopped reading its answer); the longest idle first within
//! each. A busy connection that presented a token (a live event stream, an
//! API call) is never taken; when only those remain, the new connection is
//! refused.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Connections one peer address may hold.
pub const PER_PEER: usize = 256;

/// How long a new connection has to present its request before it counts
/// among the held sockets a newcomer pushes out.
pub const GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// One accepted connection, as the limits see it. Requests carry it in their
/// extensions so the security layer can say when a token was presented.
#[derive(Debug)]
pub struct Connection {
    id: u64,
    peer: IpAddr,
    /// Requests in flight plus answers still being sent.
    busy: AtomicUsize,
    authenticated: AtomicBool,
    /// The client sent at least one byte.
    heard: AtomicBool,
    /// When it last became idle (or was opened).
    idle_since: Mutex<Instant>,
    opened: Instant,
    /// Cancelled when the connection must close to make room.
    evicted: CancellationToken,
}

impl Connection {
    /// A request on this connection presented a valid token.
    pub fn authenticated(&self) {
        self.authenticated.store(true, Ordering::Relaxed);
    }

    /// The client sent something.
    pub fn heard(&self) {
        self.heard.store(true, Ordering::Relaxed);
    }

    pub fn has_been_heard(&self) -> bool {
        self.heard.load(Ordering::Relaxed)
    }

    /// Resolves when the connection was chosen to make room.
    pub async fn evicted(&self) {
        self.evicted.cancelled().await
    }

    /// Marks a request or an answer in progress until the guard drops.
    pub fn busy(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::AcqRel);
        Busy(Arc::clone(self))
    }

    /// Lower goes first: idle without a token (past its grace, then within
    /// it), idle with one, busy without one; a busy connection with a token
    /// is never chosen.
    fn expendability(&self, now: Instant) -> Option<(u8, Instant)> {
        let busy = self.busy.load(Ordering::Acquire) > 0;
        let authenticated = self.authenticated.load(Ordering::Relaxed);
        let idle_since = *self.idle_since.lock().unwrap();
        let rank = match (authenticated, busy) {
            (false, false) => u8::from(now.duration_since(self.opened) < GRACE),
            (true, false) => 2,
            (false, true) => 3,
            (true, true) => return None,
        };
        Some((rank, idle_since))
    }
}

/// A request or answer in progress on a connection.
#[derive(Debug)]
pub struct Busy(Arc<Connection>);

impl Drop for Busy {
    fn drop(&mut self) {
        if self.0.busy.fetch_sub(1, Ordering::AcqRel) == 1 {
            *self.0.idle_since.lock().unwrap() = Instant::now();
        }
    }
}

/// The listener's open connections by peer.
#[derive(Debug)]
pub struct Peers {
    per_peer: usize,
    total: usize,
    table: Mutex<Table>,
    emptied: Notify,
}

#[derive(Debug, Default)]
struct Table {
    next_id: u64,
    open: HashMap<u64, Arc<Connection>>,
    by_peer: HashMap<IpAddr, usize>,
}

impl Table {
    /// Takes the most expendable connection `among` allows out of the table.
    fn evict(&mut self, among: impl Fn(&Connection) -> bool) -> bool {
        let now = Instant::now();
        let victim = self
            .open
            .values()
            .filter(|c| among(c))
            .filter_map(|c| c.expendability(now).map(|e| (e, c.id)))
            .min()
            .map(|(_, id)| id);
        match victim.and_then(|id| self.remove(id)) {
            Some(c) => {
                c.evicted.cancel();
                true
            }
            None => false,
        }
    }

    fn remove(&mut self, id: u64) -> Option<Arc<Connection>> {
        let c = self.open.remove(&id)?;
        if let Some(n) = self.by_peer.get_mut(&c.peer) {
            *n -= 1;
            if *n == 0 {
                self.by_peer.remove(&c.peer);
            }
        }
        Some(c)
    }
}

impl Peers {
    pub fn new(per_peer: usize, total: usize) -> Peers {
        Peers {
            per_peer,
            total,
            table: Mutex::new(Table::default()),
            emptied: Notify::new(),
        }
    }

    /// Admits a connection from `peer`, closing another to make room when a cap
    /// is reached; None when nothing can give way (refuse the newcomer).
    pub fn admit(&self, peer: IpAddr) -> Option<Arc<Connection>> {
        let mut t = self.table.lock().unwrap();
        let from_peer = t.by_peer.get(&peer).copied().unwrap_or(0);
        if from_peer >= self.per_peer && !t.evict(|c| c.peer == peer) {
            return None;
        }
        if t.open.len() >= self.total && !t.evict(|_| true) {
            return None;
        }
        t.next_id += 1;
        let c = Arc::new(Connection {
            id: t.next_id,
            peer,
            busy: AtomicUsize::new(0),
            authenticated: AtomicBool::new(false),
            heard: AtomicBool::new(false),
            idle_since: Mutex::new(Instant::now()),
            opened: Instant::now(),
            evicted: CancellationToken::new(),
        });
        t.open.insert(c.id, Arc::clone(&c));
        *t.by_peer.entry(peer).or_insert(0) += 1;
        Some(c)
    }

    /// The connection ended.
    pub fn release(&self, c: &Connection) {
        let mut t = self.table.lock().unwrap();
        t.remove(c.id);
        if t.open.is_empty() {
            self.emptied.notify_waiters();
        }
    }

    pub fn open(&self) -> usize {
        self.table.lock().unwrap().open.len()
    }

    /// Resolves once no connection is open.
    pub async fn all_closed(&self) {
        loop {
            let emptied = self.emptied.notified();
            if self.open() == 0 {
                return;
            }
            emptied.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn over_the_peer_cap_its_idle_connection_without_a_token_goes_first() {
        let peers = Peers::new(3, 100);
        let dashboard = peers.admit(A).unwrap();
        dashboard.authenticated();
        let stream = peers.admit(A).unwrap();
        stream.authenticated();
        let _streaming = stream.busy();
        let idle = peers.admit(A).unwrap();
        let other = peers.admit(B).unwrap();
        let newcomer = peers.admit(A).expect("room is made");
        assert!(idle.evicted.is_cancelled(), "the idle one without a token");
        for kept in [&dashboard, &stream, &other, &newcomer] {
            assert!(!kept.evicted.is_cancelled());
        }
        // With a token all: the longest idle goes; a busy one with a token never.
        newcomer.authenticated();
        peers.admit(A).unwrap();
        assert!(dashboard.evicted.is_cancelled());
        assert!(!stream.evicted.is_cancelled());
        assert_eq!(peers.open(), 4);
    }

    #[test]
    fn a_client_that_stopped_reading_gives_way_but_a_live_stream_does_not() {
        let peers = Peers::new(2, 100);
        let stuck = peers.admit(A).unwrap();
        let _answering = stuck.busy();
        let stream = peers.admit(A).unwrap();
        stream.authenticated();
        let _streaming = stream.busy();
        let newcomer = peers.admit(A).expect("the stuck one gives way");
        assert!(stuck.evicted.is_cancelled());
        assert!(peers.admit(A).is_some());
        assert!(
            newcomer.evicted.is_cancelled(),
            "idle goes before streaming"
        );
        assert!(!stream.evicted.is_cancelled());
        let peers = Peers::new(1, 100);
        let only = peers.admit(A).unwrap();
        only.authenticated();
        let _busy = only.busy();
        assert!(peers.admit(A).is_none(), "nothing can give way: refused");
        assert!(!only.evicted.is_cancelled());
    }

    #[test]
    fn the_total_cap_takes_from_any_peer_and_release_frees_room() {
        let peers = Peers::new(10, 2);
        let a = peers.admit(A).unwrap();
        let b = peers.admit(B).unwrap();
        b.authenticated();
        assert!(peers.admit(B).is_some());
        assert!(
            a.evicted.is_cancelled(),
            "the oldest idle one without a token"
        );
        assert!(!b.evicted.is_cancelled());
        peers.release(&b);
        assert_eq!(peers.open(), 1);
        let c = peers.admit(A).unwrap();
        assert!(!c.evicted.is_cancelled());
        assert_eq!(peers.open(), 2);
    }

    /// As if `c` had been opened `ago` earlier.
    fn age(c: &Connection, ago: std::time::Duration) -> Arc<Connection> {
        Arc::new(Connection {
            id: c.id,
            peer: c.peer,
            busy: AtomicUsize::new(c.busy.load(Ordering::Acquire)),
            authenticated: AtomicBool::new(c.authenticated.load(Ordering::Relaxed)),
            heard: AtomicBool::new(c.has_been_heard()),
            idle_since: Mutex::new(*c.idle_since.lock().unwrap() - ago),
            opened: c.opened - ago,
            evicted: c.evicted.clone(),
        })
    }

    #[test]
    fn a_flood_of_held_heads_does_not_push_out_a_newcomer_still_sending_its_request() {
        let peers = Peers::new(4, 100);
        // Four half-sent request heads, held past their grace.
        let held: Vec<Arc<Connection>> = (0..4)
            .map(|_| {
                let c = peers.admit(A).unwrap();
                c.heard();
                c
            })
            .collect();
        {
            let mut t = peers.table.lock().unwrap();
            for c in &held {
                let old = age(c, GRACE * 2);
                t.open.insert(c.id, old);
            }
        }
        // The dashboard's request connects: it has not sent its head yet.
        let dashboard = peers.admit(A).expect("a held one gives way");
        assert!(held[0].evicted.is_cancelled(), "the oldest held head");
        // The flood goes on behind it: held heads go, the newcomer stays.
        for _ in 0..3 {
            let flood = peers.admit(A).unwrap();
            flood.heard();
        }
        assert!(held.iter().all(|c| c.evicted.is_cancelled()));
        assert!(!dashboard.evicted.is_cancelled());
        // Its request presented the token: newer ones without go first.
        dashboard.authenticated();
        peers.admit(A).unwrap();
        assert!(!dashboard.evicted.is_cancelled());
        assert_eq!(peers.open(), 4);
    }

    #[test]
    fn an_idle_connection_ranks_by_when_it_fell_idle() {
        let peers = Peers::new(2, 100);
        let first = peers.admit(A).unwrap();
        let second = peers.admit(A).unwrap();
        // The first was used since: the second has been idle longer.
        drop(first.busy());
        *first.idle_since.lock().unwrap() += std::time::Duration::from_secs(1);
        peers.admit(A).unwrap();
        assert!(second.evicted.is_cancelled());
        assert!(!first.evicted.is_cancelled());
    }
}
