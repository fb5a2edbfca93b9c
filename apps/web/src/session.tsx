// Who is signed in: the API key or session token (kept in sessionStorage only, so it dies with
// the tab), the principal the API says it is (/v1/me), and the SDK client carrying it.
import { type CapyClient, createCapyClient, type Principal } from "@capy/sdk";
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from "react";

const STORAGE_KEY = "capy.token";

export interface Session {
  token: string;
  principal: Principal;
  client: CapyClient;
}

type State = { status: "signed-out"; notice: string | null } | { status: "restoring"; token: string } | { status: "signed-in"; session: Session };

interface SessionApi {
  state: State;
  /** Checks the credential with /v1/me; rejects with the API's error when it is refused. */
  signIn(token: string): Promise<void>;
  /** Forgets the credential; `notice` is shown on the sign-in page (e.g. why). */
  signOut(notice?: string): void;
}

const SessionContext = createContext<SessionApi | null>(null);

/** The page's own origin: the API serves the console, and the dev server proxies to it. */
const clientFor = (token: string) => createCapyClient({ baseUrl: "", apiKey: token });

async function openSession(token: string): Promise<Session> {
  const client = clientFor(token);
  const { principal } = await client.me.get.query({});
  return { token, principal, client };
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<State>(() => {
    const token = sessionStorage.getItem(STORAGE_KEY);
    return token ? { status: "restoring", token } : { status: "signed-out", notice: null };
  });

  // The signed-in tree (and its query cache) is unmounted with the session.
  const signOut = useCallback((notice?: string) => {
    sessionStorage.removeItem(STORAGE_KEY);
    setState({ status: "signed-out", notice: notice ?? null });
  }, []);

  const signIn = useCallback(async (token: string) => {
    const session = await openSession(token);
    sessionStorage.setItem(STORAGE_KEY, token);
    setState({ status: "signed-in", session });
  }, []);

  // A reload of the tab: the stored credential is checked again before anything is shown.
  const restoring = state.status === "restoring" ? state.token : null;
  useEffect(() => {
    if (!restoring) return;
    openSession(restoring).then(
      (session) => setState({ status: "signed-in", session }),
      () => signOut("Your session has ended. Sign in again."),
    );
  }, [restoring, signOut]);

  const api = useMemo(() => ({ state, signIn, signOut }), [state, signIn, signOut]);
  return <SessionContext.Provider value={api}>{children}</SessionContext.Provider>;
}

export function useSessionApi(): SessionApi {
  const api = useContext(SessionContext);
  if (!api) throw new Error("useSessionApi outside SessionProvider");
  return api;
}

/** The signed-in session; only used below the signed-in shell. */
export function useSession(): Session {
  const { state } = useSessionApi();
  if (state.status !== "signed-in") throw new Error("useSession while signed out");
  return state.session;
}
