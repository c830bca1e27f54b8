//! A router that remembers its routes, so the attack suite can walk every route
//! the server really has instead of a hand-kept list.

use std::sync::Arc;

use axum::handler::Handler;
use axum::routing::{get, post};
use axum::Router;

use crate::launcher::Launcher;

pub struct Routes {
    pub(crate) router: Router<Arc<Launcher>>,
    table: Vec<(&'static str, &'static str)>,
}

impl Routes {
    pub fn new() -> Routes {
        Routes {
            router: Router::new(),
            table: Vec::new(),
        }
    }

    pub fn get<H, T>(mut self, path: &'static str, handler: H) -> Routes
    where
        H: Handler<T, Arc<Launcher>>,
        T: 'static,
    {
        self.table.push(("GET", path));
        self.router = self.router.route(path, get(handler));
        self
    }

    pub fn post<H, T>(mut self, path: &'static str, handler: H) -> Routes
    where
        H: Handler<T, Arc<Launcher>>,
        T: 'static,
    {
        self.table.push(("POST", path));
        self.router = self.router.route(path, post(handler));
        self
    }

    pub fn merge(mut self, other: Routes) -> Routes {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    /// `(method, path)` of every route, in registration order.
    pub fn table(&self) -> &[(&'static str, &'static str)] {
        &self.table
    }
}

impl Default for Routes {
    fn default() -> Self {
        Routes::new()
    }
}
