// The console: sign-in gate, then per session a query cache and the typed tRPC hooks, the
// sidebar built from the page registry, and hash routes (so the API serves one static page).
import { describeError, type Principal } from "@capy/sdk";
import { MutationCache, QueryCache, QueryClient, QueryClientProvider, useQuery } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { Link, Redirect, Route, Router, Switch, useLocation } from "wouter";
import { useHashLocation } from "wouter/use-hash-location";
import { isUnauthorized } from "./errors.js";
import { PAGES } from "./pages/index.js";
import { type PageDef, projectPath } from "./pages/registry.js";
import { SessionProvider, useSession, useSessionApi } from "./session.js";
import { SignIn } from "./sign-in.js";
import { TRPCProvider, useTRPC } from "./trpc.js";
import { Button, EmptyState, Loading } from "./ui/components.js";
import { FolderIcon, LogoMark } from "./ui/icons.js";
import { ToastProvider } from "./ui/toasts.js";

export function App() {
  return (
    <SessionProvider>
      <Gate />
    </SessionProvider>
  );
}

function Gate() {
  const { state } = useSessionApi();
  if (state.status === "signed-out") return <SignIn notice={state.notice} />;
  if (state.status === "restoring") return <Loading label="Signing you in…" />;
  return <SignedIn key={state.session.token} />;
}

/** Client errors are final; server and network failures get two more tries. */
const retry = (failures: number, error: unknown) => {
  const status = describeError(error).status;
  return (status === undefined || status >= 500) && failures < 2;
};

function SignedIn() {
  const session = useSession();
  const { signOut } = useSessionApi();
  // One cache per session: nothing of a previous credential survives signing in again. A 401
  // anywhere (key revoked or expired, session over) returns to the sign-in page.
  const [queryClient] = useState(() => {
    const onError = (error: unknown) => {
      if (isUnauthorized(error)) signOut("The API no longer accepts this credential (revoked or expired). Sign in again.");
    };
    return new QueryClient({
      queryCache: new QueryCache({ onError }),
      mutationCache: new MutationCache({ onError }),
      defaultOptions: { queries: { retry, staleTime: 5_000 }, mutations: { retry: false } },
    });
  });
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={session.client} queryClient={queryClient}>
        <ToastProvider>
          <Router hook={useHashLocation}>
            <Shell />
          </Router>
        </ToastProvider>
      </TRPCProvider>
    </QueryClientProvider>
  );
}

const allowed = (page: PageDef, principal: Principal) =>
  (!page.scope || principal.scopes.includes(page.scope)) && (!page.organizationOnly || principal.project_id === null);

function Shell() {
  const { principal } = useSession();
  const [location] = useLocation();
  const match = /^\/projects\/([^/]+)\//.exec(location);
  const projectId = match ? decodeURIComponent(match[1]!) : principal.project_id;
  const pages = PAGES.filter((page) => allowed(page, principal));
  const home = principal.project_id ? projectPath(principal.project_id, "backups") : "/projects";
  useFocusOnNavigation(location);

  return (
    <div className="layout">
      {/* Not a #main link: the hash holds the route. */}
      <button type="button" className="skip-link" onClick={() => document.getElementById("main")?.focus()}>
        Skip to content
      </button>
      <Sidebar pages={pages} projectId={projectId} />
      <main id="main" className="main" tabIndex={-1}>
        <Switch>
          {pages.map((page) => (
            <Route key={page.path} path={page.path} component={page.component} />
          ))}
          <Route path="/">
            <Redirect to={home} replace />
          </Route>
          <Route>
            <EmptyState icon={<FolderIcon />} title="Nothing here">
              <p>
                This page does not exist or your credential cannot see it. <Link href={home}>Go to the start page</Link>.
              </p>
            </EmptyState>
          </Route>
        </Switch>
      </main>
    </div>
  );
}

/** After an in-app navigation, focus moves to the new page's heading (screen readers, keyboard). */
function useFocusOnNavigation(location: string) {
  const first = useRef(true);
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on each change of `location`, which the body does not read
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const frame = requestAnimationFrame(() => document.getElementById("page-title")?.focus());
    return () => cancelAnimationFrame(frame);
  }, [location]);
}

function Sidebar({ pages, projectId }: { pages: PageDef[]; projectId: string | null }) {
  const { principal } = useSession();
  const { signOut } = useSessionApi();
  const [location] = useLocation();
  const section = (name: "project" | "organization") => pages.filter((page) => page.nav?.section === name);
  const navLink = (page: PageDef) => {
    const href = page.path.replace(":projectId", encodeURIComponent(projectId ?? ""));
    const active = location === href || location.startsWith(`${href}/`);
    return (
      <li key={page.path}>
        <Link href={href} className={`nav-link${active ? " active" : ""}`} aria-current={active ? "page" : undefined}>
          {page.nav!.icon}
          {page.nav!.label}
        </Link>
      </li>
    );
  };
  return (
    <aside className="sidebar">
      <div className="brand">
        <LogoMark />
        <span>Capy Backups</span>
      </div>
      <nav aria-label="Main">
        {projectId && (
          <>
            <ProjectName projectId={projectId} />
            <ul className="nav-list">{section("project").map(navLink)}</ul>
          </>
        )}
        {section("organization").length > 0 && (
          <>
            <p className="nav-heading">Organization</p>
            <ul className="nav-list">{section("organization").map(navLink)}</ul>
          </>
        )}
      </nav>
      <div className="identity">
        <p className="identity-kind">{describePrincipal(principal)}</p>
        <p className="identity-id" title={principal.organization_id}>
          {principal.key_id ?? principal.user_id}
        </p>
        <Button variant="ghost" className="btn-block" onClick={() => signOut()}>
          Sign out
        </Button>
      </div>
    </aside>
  );
}

function describePrincipal(principal: Principal): string {
  if (principal.source === "session") return `Signed in as ${principal.role ?? "member"}`;
  return principal.project_id ? "Project API key" : "Organization API key";
}

/** The current project's name above its pages (from /v1/projects). */
function ProjectName({ projectId }: { projectId: string }) {
  const trpc = useTRPC();
  const { principal } = useSession();
  const projects = useQuery({ ...trpc.projects.list.queryOptions({}), enabled: principal.scopes.includes("projects:read") });
  const project = projects.data?.projects.find((candidate) => candidate.id === projectId);
  return (
    <div className="project-name">
      <p className="nav-heading">Project</p>
      <p className="project-title" title={projectId}>
        {project?.name ?? projectId}
      </p>
      {project && <p className="project-db">{project.database_name}</p>}
    </div>
  );
}
