// An organization principal's start page: pick the project to work on.
import { useQuery } from "@tanstack/react-query";
import { Link } from "wouter";
import { formatDateTime } from "../format.js";
import { useTRPC } from "../trpc.js";
import { Card, EmptyState, Mono, PageHeader } from "../ui/components.js";
import { FolderIcon } from "../ui/icons.js";
import { ResourceTable } from "../ui/table.js";
import { type PageDef, projectPath } from "./registry.js";

function ProjectsPage() {
  const trpc = useTRPC();
  const projects = useQuery(trpc.projects.list.queryOptions({}));
  return (
    <>
      <PageHeader title="Projects" description="Choose a project to see its backups, schedule and jobs." />
      <Card>
        <ResourceTable
          rows={projects.data?.projects}
          error={projects.error}
          columns={["Project", "Database", "Created"]}
          loadingLabel="Loading projects…"
          empty={
            <EmptyState icon={<FolderIcon />} title="No projects yet">
              <p>
                An operator creates them with <Mono>pnpm --silent admin create-project</Mono>.
              </p>
            </EmptyState>
          }
        >
          {(project) => (
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
          )}
        </ResourceTable>
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
