// What a page is: its route, its component, and (optionally) its entry in the sidebar. Adding a
// page = one file exporting a PageDef, plus one line in pages/index.ts.
import type { Scope } from "@capy/sdk";
import type { ComponentType, ReactNode } from "react";

export interface PageProps {
  /** The route's parameters, e.g. { projectId } for /projects/:projectId/backups. */
  params: Record<string, string>;
}

export interface PageDef {
  /** wouter pattern; project pages start with /projects/:projectId/. */
  path: string;
  component: ComponentType<PageProps>;
  /** The sidebar entry; pages without one (a job's detail) are reached by links. */
  nav?: { label: string; icon: ReactNode; section: "project" | "organization" };
  /** Shown only to principals holding this scope. */
  scope?: Scope;
  /** Shown only to organization principals (not project keys). */
  organizationOnly?: boolean;
}

/** The project-page path for a project, e.g. projectPath("prj_1", "jobs") → /projects/prj_1/jobs. */
export const projectPath = (projectId: string, rest: string) => `/projects/${encodeURIComponent(projectId)}/${rest}`;
