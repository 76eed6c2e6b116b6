export { buildDashboard, type DashboardDeps, type RouteInfo } from './app.ts';
export { hashSessionId } from './data/sessions.ts';
