// The sign-in page: an API key (capy_live_…) or a session token, checked against /v1/me.
import { type FormEvent, useId, useState } from "react";
import { errorText } from "./errors.js";
import { useSessionApi } from "./session.js";
import { Button } from "./ui/components.js";
import { LogoMark } from "./ui/icons.js";

type Kind = "api_key" | "session";

const KINDS: Record<Kind, { label: string; placeholder: string; hint: string }> = {
  api_key: { label: "API key", placeholder: "capy_live_…", hint: "A project or organization key, as printed by pnpm dev or created under API keys." },
  session: { label: "Session token", placeholder: "eyJhbGciOi…", hint: "A signed session token (JWT) from your identity provider." },
};

export function SignIn({ notice }: { notice: string | null }) {
  const { signIn } = useSessionApi();
  const [kind, setKind] = useState<Kind>("api_key");
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const inputId = useId();
  const errorId = useId();

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!token.trim()) {
      setError(`Enter your ${KINDS[kind].label.toLowerCase()}.`);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await signIn(token.trim());
    } catch (failure) {
      setError(errorText(failure));
      setBusy(false);
    }
  }

  return (
    <main className="signin">
      <div className="signin-card">
        <div className="signin-brand">
          <LogoMark />
          <span>Capy Backups</span>
        </div>
        <h1>Sign in</h1>
        <p className="muted">Backups, schedules and jobs of your CapyDB PostgreSQL databases.</p>
        {notice && (
          <div className="alert alert-info" role="status">
            {notice}
          </div>
        )}
        <form onSubmit={submit} noValidate>
          <div className="field">
            <label htmlFor={inputId}>{KINDS[kind].label}</label>
            <input
              id={inputId}
              type="password"
              autoComplete="off"
              spellCheck={false}
              // biome-ignore lint/a11y/noAutofocus: the sign-in page's one field; nothing else to reach first
              autoFocus
              placeholder={KINDS[kind].placeholder}
              value={token}
              onChange={(event) => setToken(event.target.value)}
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? errorId : undefined}
            />
            <p className="field-hint">{KINDS[kind].hint}</p>
            {error && (
              <p className="field-error" id={errorId} role="alert">
                {error}
              </p>
            )}
          </div>
          <Button type="submit" variant="primary" busy={busy} className="btn-block">
            Sign in
          </Button>
        </form>
        <button
          type="button"
          className="link-button signin-switch"
          onClick={() => {
            setKind(kind === "api_key" ? "session" : "api_key");
            setError(null);
          }}
        >
          {kind === "api_key" ? "Use a session token instead" : "Use an API key instead"}
        </button>
        <p className="signin-footnote muted">Kept for this browser tab only; closing it signs you out.</p>
      </div>
    </main>
  );
}
