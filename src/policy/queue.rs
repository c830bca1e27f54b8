//! The next start (SPEC 7; issue 35 item 2): whether a plan waits for the
//! user's confirmation, which queued department starts next, whether a
//! department may start outside the queue (Send back, a start by hand), and
//! whether another Zhongshu may start. The dispatcher and Send back ask the
//! same rules, so neither starts a department while the queue is held, a
//! plan is over its budget or every slot is taken.

use std::collections::BTreeMap;

use super::Refusal;
use crate::model::{Hold, Plan, PlanStatus, QueueItem, QueueStatus};

/// What a department start depends on, read from the state.
#[derive(Debug, Clone, Default)]
pub struct Room {
    /// Departments working now (each takes a slot).
    pub slots_in_use: usize,
    /// `launcher.max_departments`.
    pub max_departments: usize,
    /// The queue's hold (the Codex account's usage limit or its reserve),
    /// if any: it keeps waiting only the departments that draw on it.
    pub hold: Option<Hold>,
    /// Which departments' agents draw on the Codex account.
    pub account: AccountUse,
    /// Plans over their budget: the Zhongshu's id and what it spent, in words.
    pub over_budget: BTreeMap<String, String>,
    /// The hosts of `launcher.remotes` (issue 53), by name: their own slots,
    /// apart from this machine's.
    pub hosts: BTreeMap<String, HostRoom>,
    /// Departments placed by labels (`where: {labels: [...]}`, issue 76):
    /// any host with every one of them and a free slot takes them.
    pub labelled: BTreeMap<String, Vec<String>>,
}

/// Which departments' agents spend the Codex account whose limits hold
/// the queue: a department running another agent (its own quota, its own
/// key) is not held by them.
#[derive(Debug, Clone)]
pub struct AccountUse {
    /// Whether a department that names no agent of its own does.
    pub by_default: bool,
    /// The departments that name their own agent, and whether it does.
    pub departments: BTreeMap<String, bool>,
}

impl Default for AccountUse {
    fn default() -> AccountUse {
        AccountUse {
            by_default: true,
            departments: BTreeMap::new(),
        }
    }
}

impl AccountUse {
    pub fn draws(&self, department: &str) -> bool {
        self.departments
            .get(department)
            .copied()
            .unwrap_or(self.by_default)
    }
}

/// A host's slots, and why departments cannot start there now, if so.
#[derive(Debug, Clone, Default)]
pub struct HostRoom {
    pub in_use: usize,
    /// Its `max_departments`.
    pub max: usize,
    /// Why it takes no department now (not ready), in words.
    pub unready: Option<String>,
    /// Its `labels`.
    pub labels: Vec<String>,
}

/// Whether a plan of `assignments` assignments waits for the user: when the
/// Zhongshu `asked`, or the configuration `requires` it; an empty plan never does.
pub fn needs_confirmation(asked: bool, requires: bool, assignments: usize) -> bool {
    (asked || requires) && assignments > 0
}

/// A registered plan's status: an empty plan is ready; one asking for
/// confirmation waits; any other is dispatched at once.
pub fn plan_status(assignments: usize, needs_confirmation: bool) -> PlanStatus {
    if assignments == 0 {
        PlanStatus::Ready
    } else if needs_confirmation {
        PlanStatus::AwaitingConfirmation
    } else {
        PlanStatus::Dispatched
    }
}

/// Confirming revision `seen` of `current` is refused when the plan was
/// registered again since the user saw it. No revision (`seen` None) is a
/// Python-era caller that confirms whatever is there.
pub fn confirmable(parent: &str, current: Option<&Plan>, seen: Option<u64>) -> Result<(), Refusal> {
    let Some(seen) = seen else { return Ok(()) };
    match current {
        Some(p) if p.revision == seen => Ok(()),
        Some(p) => Err(Refusal::Conflict(format!(
            "the plan of {parent} changed since you saw it: you confirmed revision {seen}, \
             the plan is now revision {} (registered {}); review the new plan and start it again",
            p.revision, p.registered_at
        ))),
        None => Err(Refusal::Conflict(format!(
            "{parent} has no plan, so revision {seen} cannot be started"
        ))),
    }
}

/// The queue item that starts next: the first queued (FIFO) whose plan is not
/// over its budget and whose machine has a free slot (this one's, or its
/// host's when it is ready), while no hold is on.
pub fn next_start(queue: &[QueueItem], room: &Room) -> Result<usize, Refusal> {
    let mut first_refusal = None;
    let waiting = queue.iter().enumerate().filter(|(_, q)| {
        q.status == QueueStatus::Queued
            && !q
                .parent_session_id
                .as_ref()
                .is_some_and(|p| room.over_budget.contains_key(p))
    });
    for (i, q) in waiting {
        // Whose account it draws on: its agent's (an attempt may borrow one).
        let agent = q
            .attempt
            .as_ref()
            .and_then(|a| a.agent.as_deref())
            .unwrap_or(&q.department);
        match held(room, agent).and_then(|()| room_for(q, room)) {
            Ok(()) => return Ok(i),
            Err(r) => {
                first_refusal.get_or_insert(r);
            }
        }
    }
    Err(first_refusal.unwrap_or_else(|| Refusal::Unknown("no queued department may start".into())))
}

/// Why a queued item waits for its host though it may start otherwise
/// (its host is not ready, or every slot there is taken); None when it
/// does not wait for a host.
pub fn waits_for_host(q: &QueueItem, room: &Room) -> Option<String> {
    let name = match (&q.remote, labels_of(q, room)) {
        (Some(name), _) => name.clone(),
        (None, Some(labels)) => format!("a host labelled {}", labels.join(", ")),
        (None, None) => return None,
    };
    room_for(q, room)
        .err()
        .map(|r| format!("waiting for {name}: {r}"))
}

/// The labels `q` is placed by: its department's, unless it names a host.
fn labels_of<'r>(q: &QueueItem, room: &'r Room) -> Option<&'r Vec<String>> {
    match &q.remote {
        Some(_) => None,
        None => room.labelled.get(&q.department).filter(|l| !l.is_empty()),
    }
}

/// The host a queued item placed by labels goes to now: of those with
/// every label, ready, with a free slot, the one with the most free (then
/// by name); why none can take it otherwise. None for an item not placed
/// by labels.
pub fn labelled_host(q: &QueueItem, room: &Room) -> Result<Option<String>, Refusal> {
    let Some(labels) = labels_of(q, room) else {
        return Ok(None);
    };
    let fitting: Vec<(&String, &HostRoom)> = room
        .hosts
        .iter()
        .filter(|(_, h)| labels.iter().all(|l| h.labels.contains(l)))
        .collect();
    if fitting.is_empty() {
        return Err(Refusal::Unknown(format!(
            "no host of launcher.remotes has the labels {}",
            labels.join(", ")
        )));
    }
    let free = fitting
        .iter()
        .filter(|(_, h)| h.unready.is_none() && h.in_use < h.max)
        .max_by_key(|(name, h)| (h.max - h.in_use, std::cmp::Reverse(*name)));
    match free {
        Some((name, _)) => Ok(Some((*name).clone())),
        None => Err(Refusal::TooMany(
            fitting
                .iter()
                .map(|(name, h)| match &h.unready {
                    Some(why) => format!("{name}: {why}"),
                    None => format!("{name}: every slot in use ({} of {})", h.in_use, h.max),
                })
                .collect::<Vec<_>>()
                .join("; "),
        )),
    }
}

/// Whether `q`'s machine has a slot for it.
fn room_for(q: &QueueItem, room: &Room) -> Result<(), Refusal> {
    if labels_of(q, room).is_some() {
        return labelled_host(q, room).map(|_| ());
    }
    let Some(name) = &q.remote else {
        return free_slot(room);
    };
    let Some(host) = room.hosts.get(name) else {
        return Err(Refusal::Unknown(format!(
            "{name} is no longer under launcher.remotes"
        )));
    };
    if let Some(why) = &host.unready {
        return Err(Refusal::Conflict(why.clone()));
    }
    if host.in_use >= host.max {
        return Err(Refusal::TooMany(format!(
            "every slot there is in use ({} of its max_departments {})",
            host.in_use, host.max
        )));
    }
    Ok(())
}

/// A department of `parent`'s plan starting outside the queue (Send back)
/// waits for what a queued one waits for: the hold, its plan's budget, a slot.
pub fn may_start(parent: Option<&str>, department: &str, room: &Room) -> Result<(), Refusal> {
    held(room, department)?;
    if let Some(text) = parent.and_then(|p| room.over_budget.get(p)) {
        return Err(Refusal::Conflict(format!(
            "its plan {text}: no more of its departments start until the user raises its budget"
        )));
    }
    free_slot(room).map_err(|_| {
        Refusal::TooMany(format!(
            "{} departments are working (launcher.max_departments): send it back when one is done",
            room.max_departments
        ))
    })
}

/// A department started by hand (the Python tool's `start_department`) is
/// refused while every slot is taken: a plan's assignments queue, it does not.
pub fn may_start_by_hand(room: &Room) -> Result<(), Refusal> {
    free_slot(room).map_err(|_| {
        Refusal::Invalid(format!(
            "active Codex terminals limit reached: {} (every department slot is in use; \
             a plan's assignments queue, a start by hand does not)",
            room.max_departments
        ))
    })
}

/// Another Zhongshu may start while fewer than `launcher.max_zhongshu` run.
pub fn may_start_zhongshu(running: usize, max: usize) -> Result<(), Refusal> {
    if running >= max {
        return Err(Refusal::TooMany(format!(
            "{running} Zhongshu sessions are running and launcher.max_zhongshu is {max}: \
             close one before starting another"
        )));
    }
    Ok(())
}

/// Whether the hold keeps `department` waiting.
pub fn holds(room: &Room, department: &str) -> bool {
    room.hold.is_some() && room.account.draws(department)
}

/// A reviewer (issue 75) holds no department slot, but its plan's budget
/// and the quota's hold on its agent's account bind it as they bind one.
pub fn may_review(parent: Option<&str>, agent: &str, room: &Room) -> Result<(), Refusal> {
    held(room, agent)?;
    match parent.and_then(|p| room.over_budget.get(p)) {
        Some(text) => Err(Refusal::Conflict(format!(
            "its plan {text}: no reviewer starts until the user raises its budget"
        ))),
        None => Ok(()),
    }
}

fn held(room: &Room, department: &str) -> Result<(), Refusal> {
    match room
        .hold
        .as_ref()
        .filter(|_| room.account.draws(department))
    {
        Some(h) => Err(Refusal::Conflict(format!(
            "work is held: no department starts while {} (the user can start anyway)",
            h.text
        ))),
        None => Ok(()),
    }
}

fn free_slot(room: &Room) -> Result<(), Refusal> {
    if room.slots_in_use >= room.max_departments {
        return Err(Refusal::TooMany(format!(
            "every department slot is in use ({} of launcher.max_departments {})",
            room.slots_in_use, room.max_departments
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HoldReason;

    fn item(id: &str, parent: &str, status: QueueStatus) -> QueueItem {
        let a = crate::model::plan::tests::assignment("lingyubu", "t", true);
        let mut q = crate::model::plan::new_queue_item(
            id.into(),
            Some(parent.into()),
            &a,
            Some(0),
            "now".into(),
        );
        q.status = status;
        q
    }

    fn room(in_use: usize, max: usize) -> Room {
        Room {
            slots_in_use: in_use,
            max_departments: max,
            ..Room::default()
        }
    }

    #[test]
    fn the_queue_starts_in_order_within_the_slots() {
        let q = vec![
            item("q-1", "z-1", QueueStatus::Failed),
            item("q-2", "z-1", QueueStatus::Queued),
            item("q-3", "z-2", QueueStatus::Queued),
        ];
        assert_eq!(next_start(&q, &room(0, 2)), Ok(1), "failed items wait");
        assert!(matches!(
            next_start(&q, &room(2, 2)),
            Err(Refusal::TooMany(_))
        ));
        assert!(next_start(&q[..1], &room(0, 2)).is_err());
    }

    /// Issue 76: `where: {labels: [gpu]}` goes to the ready host with
    /// every label and the most free slots; it waits, saying why for each,
    /// while none has one; a host it names itself wins over its labels.
    #[test]
    fn a_department_placed_by_labels_takes_the_freest_fitting_host() {
        let host = |in_use, max, unready: Option<&str>, labels: &[&str]| HostRoom {
            in_use,
            max,
            unready: unready.map(String::from),
            labels: labels.iter().map(|l| l.to_string()).collect(),
        };
        let mut r = room(0, 2);
        r.labelled.insert("zhilibu".into(), vec!["gpu".into()]);
        r.hosts.insert("a".into(), host(1, 2, None, &["gpu"]));
        r.hosts
            .insert("b".into(), host(0, 2, None, &["gpu", "big"]));
        r.hosts.insert("c".into(), host(0, 4, None, &["cpu"]));
        let mut q = item("q-1", "z-1", QueueStatus::Queued);
        q.department = "zhilibu".into();
        assert_eq!(labelled_host(&q, &r), Ok(Some("b".into())));
        r.hosts.get_mut("b").unwrap().unready = Some("b is not reachable".into());
        assert_eq!(labelled_host(&q, &r), Ok(Some("a".into())));
        r.hosts.get_mut("a").unwrap().in_use = 2;
        assert_eq!(next_start(std::slice::from_ref(&q), &r).ok(), None);
        assert_eq!(
            waits_for_host(&q, &r).as_deref(),
            Some(
                "waiting for a host labelled gpu: a: every slot in use (2 of 2); \
                 b: b is not reachable"
            )
        );
        r.labelled.insert("zhilibu".into(), vec!["tpu".into()]);
        let none = labelled_host(&q, &r).unwrap_err().to_string();
        assert!(
            none.contains("no host of launcher.remotes has the labels tpu"),
            "{none}"
        );
        q.remote = Some("c".into());
        assert_eq!(labelled_host(&q, &r), Ok(None), "its own where wins");
        assert_eq!(next_start(std::slice::from_ref(&q), &r), Ok(0));
    }

    #[test]
    fn a_department_placed_on_a_host_waits_for_it_and_takes_its_slots_not_these() {
        let mut on_gpu1 = item("q-1", "z-1", QueueStatus::Queued);
        on_gpu1.remote = Some("gpu1".into());
        let q = vec![on_gpu1, item("q-2", "z-1", QueueStatus::Queued)];
        let mut r = room(2, 2);
        r.hosts.insert(
            "gpu1".into(),
            HostRoom {
                in_use: 0,
                max: 1,
                unready: Some("gpu1 is not reachable: Connection refused".into()),
                labels: Vec::new(),
            },
        );
        let e = next_start(&q, &r).unwrap_err();
        assert!(e.to_string().contains("not reachable"), "{e}");
        assert_eq!(
            waits_for_host(&q[0], &r).as_deref(),
            Some("waiting for gpu1: gpu1 is not reachable: Connection refused")
        );
        assert_eq!(
            waits_for_host(&q[1], &r),
            None,
            "a local one waits for no host"
        );
        r.hosts.get_mut("gpu1").unwrap().unready = None;
        assert_eq!(
            next_start(&q, &r),
            Ok(0),
            "this machine's slots are not its"
        );
        r.hosts.get_mut("gpu1").unwrap().in_use = 1;
        assert!(waits_for_host(&q[0], &r)
            .unwrap()
            .contains("every slot there"));
        r.slots_in_use = 1;
        assert_eq!(next_start(&q, &r), Ok(1), "the local one goes first then");
    }

    #[test]
    fn the_hold_and_a_spent_budget_keep_departments_waiting_in_and_outside_the_queue() {
        let q = vec![
            item("q-1", "z-1", QueueStatus::Queued),
            item("q-2", "z-2", QueueStatus::Queued),
        ];
        let mut r = room(0, 2);
        r.over_budget
            .insert("z-1".into(), "used 5000 of its 1000 token budget".into());
        assert_eq!(next_start(&q, &r), Ok(1), "z-1's plan is over budget");
        let e = may_start(Some("z-1"), "lingyubu", &r).unwrap_err();
        assert!(e.to_string().contains("token budget"), "{e}");
        assert_eq!(may_start(Some("z-2"), "lingyubu", &r), Ok(()));
        r.hold = Some(Hold {
            reason: HoldReason::Reserve,
            until: None,
            text: "the 5-hour window is 97% used".into(),
        });
        assert!(matches!(next_start(&q, &r), Err(Refusal::Conflict(m)) if m.contains("held")));
        assert!(
            matches!(may_start(Some("z-2"), "lingyubu", &r), Err(Refusal::Conflict(m)) if m.contains("97%"))
        );
        assert!(matches!(
            may_start(None, "lingyubu", &room(2, 2)),
            Err(Refusal::TooMany(_))
        ));
        assert!(matches!(
            may_start_by_hand(&room(2, 2)),
            Err(Refusal::Invalid(_))
        ));
    }

    #[test]
    fn the_codex_accounts_hold_keeps_waiting_only_the_departments_that_draw_on_it() {
        let mut claude = item("q-1", "z-1", QueueStatus::Queued);
        claude.department = "gongbu".into();
        let q = vec![item("q-0", "z-1", QueueStatus::Queued), claude];
        let mut r = room(0, 2);
        r.hold = Some(Hold {
            reason: HoldReason::Limit,
            until: None,
            text: "the weekly window is used up".into(),
        });
        r.account.departments.insert("gongbu".into(), false);
        assert_eq!(next_start(&q, &r), Ok(1), "gongbu runs another agent");
        assert!(holds(&r, "lingyubu") && !holds(&r, "gongbu"));
        assert_eq!(may_start(Some("z-1"), "gongbu", &r), Ok(()));
        assert!(may_start(Some("z-1"), "lingyubu", &r).is_err());
        // A launcher whose own agent is not Codex: only a Codex department waits.
        r.account = AccountUse {
            by_default: false,
            departments: [("lingyubu".to_string(), true)].into(),
        };
        assert_eq!(next_start(&q, &r), Ok(1));
        assert!(holds(&r, "lingyubu") && !holds(&r, "zhilibu"));
    }

    #[test]
    fn confirmation_zhongshus_and_revisions() {
        assert!(needs_confirmation(true, false, 2));
        assert!(needs_confirmation(false, true, 1));
        assert!(!needs_confirmation(true, true, 0));
        assert_eq!(plan_status(0, true), PlanStatus::Ready);
        assert_eq!(plan_status(2, true), PlanStatus::AwaitingConfirmation);
        assert_eq!(plan_status(2, false), PlanStatus::Dispatched);
        assert_eq!(may_start_zhongshu(3, 4), Ok(()));
        assert!(matches!(may_start_zhongshu(4, 4), Err(Refusal::TooMany(_))));
        let plan: Plan = serde_json::from_value(serde_json::json!({
            "session_id": "z-1", "revision": 2, "summary": "s", "assignments": [],
            "needs_confirmation": true, "status": "awaiting_confirmation",
            "registered_at": "now",
        }))
        .unwrap();
        assert_eq!(confirmable("z-1", Some(&plan), Some(2)), Ok(()));
        assert_eq!(confirmable("z-1", Some(&plan), None), Ok(()));
        let why = confirmable("z-1", Some(&plan), Some(1))
            .unwrap_err()
            .to_string();
        assert!(
            why.contains("changed since you saw it") && why.contains("revision 1"),
            "{why}"
        );
        assert_eq!(confirmable("z-1", None, None), Ok(()));
        assert!(matches!(
            confirmable("z-1", None, Some(1)),
            Err(Refusal::Conflict(_))
        ));
    }
}
