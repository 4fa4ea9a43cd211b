# CloudWatch log groups: the EKS control plane's (name fixed by EKS) and the application's,
# where a Fluent Bit DaemonSet ships the pods' JSON lines.

variable "name" { type = string }
variable "retention_days" { type = number }

resource "aws_cloudwatch_log_group" "cluster" {
  name              = "/aws/eks/${var.name}/cluster"
  retention_in_days = var.retention_days
}

resource "aws_cloudwatch_log_group" "app" {
  name              = "/${var.name}/app"
  retention_in_days = var.retention_days
}

output "app_log_group" {
  value = aws_cloudwatch_log_group.app.name
}

output "cluster_log_group" {
  value = aws_cloudwatch_log_group.cluster.name
}
