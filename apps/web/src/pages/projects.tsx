// An organization principal's start page: pick the project to work on.
import { useQuery } from "@tanstack/react-query";
import { Link } from "wouter";
import { formatDateTime } from "../format.js";
import { useTRPC } from "../trpc.js";
import { Card, EmptyState, ErrorBanner, LoadingRows, Mono, PageHeader } from "../ui/components.js";
import { FolderIcon } from "../ui/icons.js";
import { projectPath, type PageDef } from "./registry.js";

function ProjectsPage() {
  const trpc = useTRPC();
  const projects = useQuery(trpc.projects.list.queryOptions({}));
  const rows = projects.data?.projects;
  return (
    <>
      <PageHeader title="Projects" description="Choose a project to see its backups, schedule and jobs." />
      <Card>
        <ErrorBanner error={projects.error} />
        {rows && rows.length === 0 ? (
          <EmptyState icon={<FolderIcon />} title="No projects yet">
            <p>
              An operator creates them with <Mono>pnpm --silent admin create-project</Mono>.
            </p>
          </EmptyState>
        ) : (
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Project</th>
                  <th scope="col">Database</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {!rows && !projects.error && <LoadingRows columns={3} label="Loading projects…" />}
                {rows?.map((project) => (
                  <tr key={project.id}>
                    <td>
                      <Link href={projectPath(project.id, "backups")} className="cell-title">
                        {project.name}
                      </Link>
                      <Mono>{project.id}</Mono>
                    </td>
                    <td>
                      <Mono>{project.database_name}</Mono>
                    </td>
                    <td>{formatDateTime(project.created_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </>
  );
}

export const page: PageDef = {
  path: "/projects",
  component: ProjectsPage,
  nav: { label: "Projects", icon: <FolderIcon />, section: "organization" },
  scope: "projects:read",
  organizationOnly: true,
};
